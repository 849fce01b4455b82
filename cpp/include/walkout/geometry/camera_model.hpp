// CameraModel: one calibrated camera, the OpenCV pinhole model in walkout's store frame.
//
//   x_cam = R · X_store + t          (R, t: camera_from_store; metres)
//   (x, y) = (x_cam / z_cam, y_cam / z_cam)                normalized image coordinates
//   (xd, yd) = distort(x, y)                                OpenCV's coefficient order
//   u = fx · xd + skew · yd + cx,  v = fy · yd + cy         pixels; centres at integers
//
// Distortion coefficients follow OpenCV: k1 k2 p1 p2 [k3 [k4 k5 k6 [s1 s2 s3 s4 [tx ty]]]]
// (0, 4, 5, 8, 12 or 14 of them). The tilted-sensor terms tx, ty must be zero: they belong
// to Scheimpflug cameras, which a ceiling camera is not, and supporting them would put a
// projective warp in every hot loop for no user.
#pragma once

#include <array>
#include <cstddef>
#include <vector>

namespace walkout::geometry {

struct CameraModel {
  double fx = 1.0;    // focal length along u, pixels (> 0)
  double fy = 1.0;    // focal length along v, pixels (> 0)
  double cx = 0.0;    // principal point u, pixels
  double cy = 0.0;    // principal point v, pixels
  double skew = 0.0;  // K[0][1]; 0 for every modern sensor
  // k1 k2 p1 p2 k3 k4 k5 k6 s1 s2 s3 s4 (unused ones are 0).
  std::array<double, 12> dist{};
  std::array<double, 9> R{1, 0, 0, 0, 1, 0, 0, 0, 1};  // camera_from_store rotation, row-major
  std::array<double, 3> t{0, 0, 0};                    // camera_from_store translation, metres

  // Builds a camera from a row-major 3x3 K, n_dist OpenCV coefficients, R (row-major) and t.
  // Throws std::invalid_argument naming what is wrong (non-positive focal length, K not
  // upper triangular, a coefficient count OpenCV does not define, non-zero tilt, R not a
  // rotation, non-finite values).
  static CameraModel from_arrays(const double* K, const double* dist, std::size_t n_dist,
                                 const double* R, const double* t);

  // Camera centre in the store frame: -Rᵀ t.
  std::array<double, 3> centre_in_store() const;

  // OpenCV's distortion of a normalized point; with J != nullptr also its 2x2 Jacobian
  // d(xd, yd)/d(x, y), row-major.
  void distort(double x, double y, double& xd, double& yd, double* J = nullptr) const;

  // Inverse of distort by Newton's method from (xd, yd). Returns false (and leaves the last
  // iterate) when it does not converge to 1e-10 in normalized units, which happens only far
  // outside the image, where a polynomial model folds back on itself.
  bool undistort(double xd, double yd, double& x, double& y) const;

  // Pixel of a normalized distorted point, and back.
  void pixel_from_distorted(double xd, double yd, double& u, double& v) const {
    u = fx * xd + skew * yd + cx;
    v = fy * yd + cy;
  }
  void distorted_from_pixel(double u, double v, double& xd, double& yd) const {
    yd = (v - cy) / fy;
    xd = (u - cx - skew * yd) / fx;
  }

  bool has_distortion() const;
};

}  // namespace walkout::geometry
