#include "walkout/geometry/triangulation.hpp"

#include <cmath>
#include <limits>

#include "walkout/common/parallel.hpp"
#include "walkout/geometry/projection.hpp"

namespace walkout::geometry {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Eigenvector of the smallest eigenvalue of a symmetric 4x4 matrix, by cyclic Jacobi
// rotations (converges quadratically; 4x4 needs a handful of sweeps).
void smallest_eigenvector4(double A[16], double out[4]) {
  double V[16] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
  double scale = 0.0;
  for (int i = 0; i < 16; ++i) scale += A[i] * A[i];
  for (int sweep = 0; sweep < 30; ++sweep) {
    double off = 0.0;
    for (int p = 0; p < 4; ++p)
      for (int q = p + 1; q < 4; ++q) off += A[4 * p + q] * A[4 * p + q];
    // Relative to the matrix: an absolute threshold is never met by rounding-level
    // off-diagonals of a large matrix and would run every sweep.
    if (off <= 1e-30 * scale) break;
    for (int p = 0; p < 4; ++p) {
      for (int q = p + 1; q < 4; ++q) {
        const double apq = A[4 * p + q];
        if (std::fabs(apq) < 1e-300) continue;
        const double theta = (A[4 * q + q] - A[4 * p + p]) / (2.0 * apq);
        const double tt = (theta >= 0 ? 1.0 : -1.0) / (std::fabs(theta) + std::sqrt(theta * theta + 1.0));
        const double c = 1.0 / std::sqrt(tt * tt + 1.0), s = tt * c;
        for (int k = 0; k < 4; ++k) {  // A <- A J (columns p, q)
          const double akp = A[4 * k + p], akq = A[4 * k + q];
          A[4 * k + p] = c * akp - s * akq;
          A[4 * k + q] = s * akp + c * akq;
        }
        for (int k = 0; k < 4; ++k) {  // A <- Jᵀ A (rows p, q)
          const double apk = A[4 * p + k], aqk = A[4 * q + k];
          A[4 * p + k] = c * apk - s * aqk;
          A[4 * q + k] = s * apk + c * aqk;
        }
        for (int k = 0; k < 4; ++k) {
          const double vkp = V[4 * k + p], vkq = V[4 * k + q];
          V[4 * k + p] = c * vkp - s * vkq;
          V[4 * k + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  int best = 0;
  for (int i = 1; i < 4; ++i)
    if (A[5 * i] < A[5 * best]) best = i;
  for (int k = 0; k < 4; ++k) out[k] = V[4 * k + best];
}

// Solves the symmetric 3x3 system M x = b by Cramer's rule; false when singular.
bool solve3(const double M[9], const double b[3], double x[3]) {
  const double c0 = M[4] * M[8] - M[5] * M[7];
  const double c1 = M[5] * M[6] - M[3] * M[8];
  const double c2 = M[3] * M[7] - M[4] * M[6];
  const double det = M[0] * c0 + M[1] * c1 + M[2] * c2;
  if (!(std::fabs(det) > 1e-300)) return false;
  x[0] = (b[0] * c0 + M[1] * (M[5] * b[2] - b[1] * M[8]) + M[2] * (b[1] * M[7] - M[4] * b[2])) / det;
  x[1] = (M[0] * (b[1] * M[8] - M[5] * b[2]) + b[0] * c1 + M[2] * (M[3] * b[2] - b[1] * M[6])) / det;
  x[2] = (M[0] * (M[4] * b[2] - b[1] * M[7]) + M[1] * (b[1] * M[6] - M[3] * b[2]) + b[0] * c2) / det;
  return true;
}

// Sum of squared pixel residuals of X over the views in use; NaN when X is behind one.
double reprojection_sse(const std::vector<CameraModel>& cams, const double* pixels,
                        std::size_t n, std::size_t j, const double X[3]) {
  double sse = 0.0;
  for (std::size_t i = 0; i < cams.size(); ++i) {
    const double* uv = pixels + 2 * (i * n + j);
    if (std::isnan(uv[0]) || std::isnan(uv[1])) continue;
    double u, v;
    if (!project_point(cams[i], X, u, v)) return kNaN;
    sse += (u - uv[0]) * (u - uv[0]) + (v - uv[1]) * (v - uv[1]);
  }
  return sse;
}

void triangulate_one(const std::vector<CameraModel>& cams, const double* pixels, std::size_t n,
                     std::size_t j, int iterations, double* P, double& residual, int& used) {
  P[0] = P[1] = P[2] = residual = kNaN;
  double A[16] = {0};
  used = 0;
  for (std::size_t i = 0; i < cams.size(); ++i) {
    const double* uv = pixels + 2 * (i * n + j);
    if (std::isnan(uv[0]) || std::isnan(uv[1])) continue;
    double x, y;
    if (!normalized_from_pixel(cams[i], uv[0], uv[1], x, y)) continue;
    const auto& c = cams[i];
    // Rows x·P3 - P1 and y·P3 - P2 of the 3x4 [R | t].
    const double P1[4] = {c.R[0], c.R[1], c.R[2], c.t[0]};
    const double P2[4] = {c.R[3], c.R[4], c.R[5], c.t[1]};
    const double P3[4] = {c.R[6], c.R[7], c.R[8], c.t[2]};
    double rows[2][4];
    for (int k = 0; k < 4; ++k) {
      rows[0][k] = x * P3[k] - P1[k];
      rows[1][k] = y * P3[k] - P2[k];
    }
    for (auto& row : rows) {
      double norm = 0.0;
      for (double r : row) norm += r * r;
      norm = std::sqrt(norm);
      if (!(norm > 0.0)) continue;
      for (int a = 0; a < 4; ++a)
        for (int b = 0; b < 4; ++b) A[4 * a + b] += row[a] * row[b] / (norm * norm);
    }
    ++used;
  }
  if (used < 2) return;
  double h[4];
  smallest_eigenvector4(A, h);
  if (!(std::fabs(h[3]) > 1e-12)) return;  // point at infinity: parallel rays
  double X[3] = {h[0] / h[3], h[1] / h[3], h[2] / h[3]};
  double sse = reprojection_sse(cams, pixels, n, j, X);
  if (std::isnan(sse)) return;  // the rays meet behind a camera

  // Gauss-Newton (with a step-halving line search) on the pixel reprojection error.
  for (int it = 0; it < iterations; ++it) {
    double JtJ[9] = {0}, Jtr[3] = {0};
    for (std::size_t i = 0; i < cams.size(); ++i) {
      const double* uv = pixels + 2 * (i * n + j);
      if (std::isnan(uv[0]) || std::isnan(uv[1])) continue;
      double u, v, J[6];
      if (!project_point(cams[i], X, u, v, J)) break;
      const double r[2] = {u - uv[0], v - uv[1]};
      for (int a = 0; a < 3; ++a) {
        Jtr[a] += J[a] * r[0] + J[3 + a] * r[1];
        for (int b = 0; b < 3; ++b) JtJ[3 * a + b] += J[a] * J[b] + J[3 + a] * J[3 + b];
      }
    }
    double step[3];
    if (!solve3(JtJ, Jtr, step)) break;
    double scale = 1.0, trial[3], trial_sse = kNaN;
    for (int half = 0; half < 8; ++half, scale *= 0.5) {
      for (int k = 0; k < 3; ++k) trial[k] = X[k] - scale * step[k];
      trial_sse = reprojection_sse(cams, pixels, n, j, trial);
      if (trial_sse <= sse) break;
    }
    if (!(trial_sse <= sse)) break;
    const double moved = std::fabs(X[0] - trial[0]) + std::fabs(X[1] - trial[1]) + std::fabs(X[2] - trial[2]);
    for (int k = 0; k < 3; ++k) X[k] = trial[k];
    sse = trial_sse;
    if (moved < 1e-12) break;
  }
  for (int k = 0; k < 3; ++k) P[k] = X[k];
  residual = std::sqrt(sse / used);
}

}  // namespace

void triangulate(const std::vector<CameraModel>& cameras, const double* pixels, std::size_t n,
                 const TriangulationOptions& options, double* points, double* residuals,
                 int* views) {
  parallel_for(n, [&](std::size_t b, std::size_t e) {
    for (std::size_t j = b; j < e; ++j) {
      int used = 0;
      triangulate_one(cameras, pixels, n, j, options.refine_iterations, points + 3 * j,
                      residuals[j], used);
      if (views) views[j] = used;
    }
  }, options.threads, 1024);
}

}  // namespace walkout::geometry
