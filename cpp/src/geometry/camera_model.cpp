#include "walkout/geometry/camera_model.hpp"

#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>

namespace walkout::geometry {

namespace {

bool all_finite(const double* v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (!std::isfinite(v[i])) return false;
  return true;
}

}  // namespace

CameraModel CameraModel::from_arrays(const double* K, const double* dist, std::size_t n_dist,
                                     const double* R, const double* t) {
  if (!all_finite(K, 9)) throw std::invalid_argument("K: expected finite values");
  if (!(K[0] > 0.0) || !(K[4] > 0.0))
    throw std::invalid_argument("K: focal lengths K[0][0] and K[1][1] must be positive");
  if (K[3] != 0.0 || K[6] != 0.0 || K[7] != 0.0 || K[8] != 1.0)
    throw std::invalid_argument("K: expected upper triangular with last row [0, 0, 1]");
  if (n_dist != 0 && n_dist != 4 && n_dist != 5 && n_dist != 8 && n_dist != 12 && n_dist != 14) {
    throw std::invalid_argument("dist: expected 0, 4, 5, 8, 12 or 14 OpenCV coefficients, got " +
                                std::to_string(n_dist));
  }
  if (n_dist && !all_finite(dist, n_dist)) throw std::invalid_argument("dist: expected finite values");
  if (n_dist == 14 && (dist[12] != 0.0 || dist[13] != 0.0))
    throw std::invalid_argument("dist: tilted-sensor terms tx, ty (coefficients 13, 14) must be 0");
  if (!all_finite(R, 9)) throw std::invalid_argument("R: expected finite values");
  if (!all_finite(t, 3)) throw std::invalid_argument("t: expected finite values");
  // R·Rᵀ = I and det +1, with the same tolerance as the calibration file's validator.
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      double s = 0.0;
      for (int k = 0; k < 3; ++k) s += R[3 * i + k] * R[3 * j + k];
      if (std::fabs(s - (i == j ? 1.0 : 0.0)) > 1e-6)
        throw std::invalid_argument("R: expected a rotation matrix (R·Rᵀ = I within 1e-6)");
    }
  const double det = R[0] * (R[4] * R[8] - R[5] * R[7]) - R[1] * (R[3] * R[8] - R[5] * R[6]) +
                     R[2] * (R[3] * R[7] - R[4] * R[6]);
  if (det < 0) throw std::invalid_argument("R: expected a proper rotation (det +1), got a reflection");

  CameraModel c;
  c.fx = K[0];
  c.skew = K[1];
  c.cx = K[2];
  c.fy = K[4];
  c.cy = K[5];
  for (std::size_t i = 0; i < n_dist && i < 12; ++i) c.dist[i] = dist[i];
  for (int i = 0; i < 9; ++i) c.R[i] = R[i];
  for (int i = 0; i < 3; ++i) c.t[i] = t[i];
  return c;
}

std::array<double, 3> CameraModel::centre_in_store() const {
  return {-(R[0] * t[0] + R[3] * t[1] + R[6] * t[2]), -(R[1] * t[0] + R[4] * t[1] + R[7] * t[2]),
          -(R[2] * t[0] + R[5] * t[1] + R[8] * t[2])};
}

bool CameraModel::has_distortion() const {
  for (double d : dist)
    if (d != 0.0) return true;
  return false;
}

void CameraModel::distort(double x, double y, double& xd, double& yd, double* J) const {
  const double k1 = dist[0], k2 = dist[1], p1 = dist[2], p2 = dist[3], k3 = dist[4];
  const double k4 = dist[5], k5 = dist[6], k6 = dist[7];
  const double s1 = dist[8], s2 = dist[9], s3 = dist[10], s4 = dist[11];
  const double r2 = x * x + y * y;
  const double a = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3));
  const double b = 1.0 + r2 * (k4 + r2 * (k5 + r2 * k6));
  const double c = a / b;  // radial gain
  const double xy = x * y;
  xd = x * c + 2.0 * p1 * xy + p2 * (r2 + 2.0 * x * x) + r2 * (s1 + s2 * r2);
  yd = y * c + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * xy + r2 * (s3 + s4 * r2);
  if (J) {
    const double da = k1 + r2 * (2.0 * k2 + 3.0 * k3 * r2);  // da/dr2
    const double db = k4 + r2 * (2.0 * k5 + 3.0 * k6 * r2);  // db/dr2
    const double dc = (da * b - a * db) / (b * b);            // dc/dr2
    const double sx = s1 + 2.0 * s2 * r2, sy = s3 + 2.0 * s4 * r2;  // d(prism)/dr2
    J[0] = c + 2.0 * x * x * dc + 2.0 * p1 * y + 6.0 * p2 * x + 2.0 * x * sx;
    J[1] = 2.0 * xy * dc + 2.0 * p1 * x + 2.0 * p2 * y + 2.0 * y * sx;
    J[2] = 2.0 * xy * dc + 2.0 * p1 * x + 2.0 * p2 * y + 2.0 * x * sy;
    J[3] = c + 2.0 * y * y * dc + 6.0 * p1 * y + 2.0 * p2 * x + 2.0 * y * sy;
  }
}

bool CameraModel::undistort(double xd, double yd, double& x, double& y) const {
  x = xd;
  y = yd;
  if (!has_distortion()) return true;
  // Newton on distort(x, y) = (xd, yd) from x = xd. OpenCV's undistortPoints runs a fixed number of
  // fixed-point steps instead, which stops short by up to a pixel at the corners of strongly
  // distorted lenses; a projection round trip needs better than 1e-6 m on the floor.
  // Stop at 1e-10 in normalized units (1e-7 px at f = 1000 px, 0.3 nm on the floor 3 m
  // away): Newton converges quadratically, so a tighter bound costs a whole extra step per
  // point for digits nobody can measure; below ~1e-14 rounding would make it spin to the cap.
  constexpr double kTol2 = 1e-20;
  double err_prev = INFINITY;
  for (int it = 0; it < 50; ++it) {
    double ex, ey, J[4];
    distort(x, y, ex, ey, J);
    ex -= xd;
    ey -= yd;
    const double err = ex * ex + ey * ey;
    if (err < kTol2) return true;
    if (!std::isfinite(err)) return false;
    const double det = J[0] * J[3] - J[1] * J[2];
    if (!(std::fabs(det) > 1e-300)) return false;
    double dx = (J[3] * ex - J[1] * ey) / det;
    double dy = (-J[2] * ex + J[0] * ey) / det;
    // Halve the step when the residual grew: keeps Newton inside the basin near the edge of
    // the image where the model bends.
    if (err > err_prev) {
      dx *= 0.5;
      dy *= 0.5;
    }
    err_prev = err;
    x -= dx;
    y -= dy;
  }
  double ex, ey;
  distort(x, y, ex, ey);
  return (ex - xd) * (ex - xd) + (ey - yd) * (ey - yd) < 1e-18;
}

}  // namespace walkout::geometry
