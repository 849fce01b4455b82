#include "walkout/geometry/triangulation.hpp"

#include <cmath>
#include <limits>

#include "walkout/common/parallel.hpp"
#include "walkout/geometry/projection.hpp"

namespace walkout::geometry {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

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
  // Inhomogeneous DLT (Hartley & Zisserman §12.2): fix the homogeneous coordinate to 1 and
  // solve the 3x3 normal equations, M X = -b with M, b blocks of the 4x4 AᵀA. A store point
  // is never at infinity, where this form fails (parallel rays make M singular: NaN), and it
  // costs a 3x3 solve instead of an eigen-decomposition.
  const double M[9] = {A[0], A[1], A[2], A[4], A[5], A[6], A[8], A[9], A[10]};
  const double rhs[3] = {-A[3], -A[7], -A[11]};
  double X[3];
  if (!solve3(M, rhs, X)) return;
  // Near-parallel rays leave M nearly singular: reject points whose solve is not finite.
  if (!(std::isfinite(X[0]) && std::isfinite(X[1]) && std::isfinite(X[2]))) return;
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
    if (moved < 1e-9) break;  // a nanometre: far below any pixel's footprint
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
