#include "walkout/geometry/projection.hpp"

#include <cmath>
#include <limits>

#include "walkout/common/parallel.hpp"

namespace walkout::geometry {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Below ~4096 points per thread the thread start costs more than the work it saves.
constexpr std::size_t kMinChunk = 4096;

// R·X + t
inline void camera_from_store(const CameraModel& c, const double X[3], double out[3]) {
  for (int i = 0; i < 3; ++i)
    out[i] = c.R[3 * i] * X[0] + c.R[3 * i + 1] * X[1] + c.R[3 * i + 2] * X[2] + c.t[i];
}

// Rᵀ·d
inline void store_from_camera_dir(const CameraModel& c, const double d[3], double out[3]) {
  for (int i = 0; i < 3; ++i) out[i] = c.R[i] * d[0] + c.R[3 + i] * d[1] + c.R[6 + i] * d[2];
}

}  // namespace

bool project_point(const CameraModel& cam, const double X[3], double& u, double& v, double* J) {
  double p[3];
  camera_from_store(cam, X, p);
  if (!(p[2] > 0.0)) return false;
  const double iz = 1.0 / p[2];
  const double x = p[0] * iz, y = p[1] * iz;
  double xd, yd, D[4];
  cam.distort(x, y, xd, yd, J ? D : nullptr);
  cam.pixel_from_distorted(xd, yd, u, v);
  if (J) {
    // d(pixel)/d(xd,yd) = [[fx, skew], [0, fy]]; d(x,y)/d(p) = [[1/z, 0, -x/z], [0, 1/z, -y/z]];
    // d(p)/d(X) = R. Chain them.
    const double A[4] = {cam.fx * D[0] + cam.skew * D[2], cam.fx * D[1] + cam.skew * D[3],
                         cam.fy * D[2], cam.fy * D[3]};
    const double N[6] = {iz, 0.0, -x * iz, 0.0, iz, -y * iz};
    double AN[6];
    for (int r = 0; r < 2; ++r)
      for (int k = 0; k < 3; ++k) AN[3 * r + k] = A[2 * r] * N[k] + A[2 * r + 1] * N[3 + k];
    for (int r = 0; r < 2; ++r)
      for (int k = 0; k < 3; ++k)
        J[3 * r + k] = AN[3 * r] * cam.R[k] + AN[3 * r + 1] * cam.R[3 + k] + AN[3 * r + 2] * cam.R[6 + k];
  }
  return true;
}

bool normalized_from_pixel(const CameraModel& cam, double u, double v, double& x, double& y) {
  double xd, yd;
  cam.distorted_from_pixel(u, v, xd, yd);
  return cam.undistort(xd, yd, x, y);
}

void image_from_store(const CameraModel& cam, const double* points, std::size_t n,
                      double* pixels, std::size_t threads) {
  parallel_for(n, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) {
      double u, v;
      if (project_point(cam, points + 3 * i, u, v)) {
        pixels[2 * i] = u;
        pixels[2 * i + 1] = v;
      } else {
        pixels[2 * i] = pixels[2 * i + 1] = kNaN;
      }
    }
  }, threads, kMinChunk);
}

void undistort_pixels(const CameraModel& cam, const double* pixels, std::size_t n, double* out,
                      std::size_t threads) {
  parallel_for(n, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) {
      double x, y;
      if (normalized_from_pixel(cam, pixels[2 * i], pixels[2 * i + 1], x, y)) {
        cam.pixel_from_distorted(x, y, out[2 * i], out[2 * i + 1]);
      } else {
        out[2 * i] = out[2 * i + 1] = kNaN;
      }
    }
  }, threads, kMinChunk);
}

void rays_from_image(const CameraModel& cam, const double* pixels, std::size_t n,
                     double* directions, std::size_t threads) {
  parallel_for(n, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) {
      double* d = directions + 3 * i;
      double x, y;
      if (!normalized_from_pixel(cam, pixels[2 * i], pixels[2 * i + 1], x, y)) {
        d[0] = d[1] = d[2] = kNaN;
        continue;
      }
      const double inv = 1.0 / std::sqrt(x * x + y * y + 1.0);
      const double dc[3] = {x * inv, y * inv, inv};
      store_from_camera_dir(cam, dc, d);
    }
  }, threads, kMinChunk);
}

void plane_from_image(const CameraModel& cam, const double* pixels, std::size_t n,
                      const double normal[3], double offset, double* points,
                      std::size_t threads) {
  const auto C = cam.centre_in_store();
  const double nc = normal[0] * C[0] + normal[1] * C[1] + normal[2] * C[2];
  parallel_for(n, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) {
      double* P = points + 3 * i;
      double x, y;
      if (!normalized_from_pixel(cam, pixels[2 * i], pixels[2 * i + 1], x, y)) {
        P[0] = P[1] = P[2] = kNaN;
        continue;
      }
      const double dc[3] = {x, y, 1.0};  // z_cam = 1: lambda > 0 means in front of the camera
      double d[3];
      store_from_camera_dir(cam, dc, d);
      const double nd = normal[0] * d[0] + normal[1] * d[1] + normal[2] * d[2];
      const double lambda = (offset - nc) / nd;
      if (!(lambda > 0.0) || !std::isfinite(lambda)) {
        P[0] = P[1] = P[2] = kNaN;
        continue;
      }
      for (int k = 0; k < 3; ++k) P[k] = C[k] + lambda * d[k];
    }
  }, threads, kMinChunk);
}

void floor_from_image(const CameraModel& cam, const double* pixels, std::size_t n,
                      double* floor_xy, std::size_t threads) {
  const auto C = cam.centre_in_store();
  parallel_for(n, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) {
      double x, y;
      double* F = floor_xy + 2 * i;
      if (!normalized_from_pixel(cam, pixels[2 * i], pixels[2 * i + 1], x, y)) {
        F[0] = F[1] = kNaN;
        continue;
      }
      const double dc[3] = {x, y, 1.0};
      double d[3];
      store_from_camera_dir(cam, dc, d);
      const double lambda = -C[2] / d[2];
      if (!(lambda > 0.0) || !std::isfinite(lambda)) {
        F[0] = F[1] = kNaN;
        continue;
      }
      F[0] = C[0] + lambda * d[0];
      F[1] = C[1] + lambda * d[1];
    }
  }, threads, kMinChunk);
}

void floor_covariance(const CameraModel& cam, const double* pixels, std::size_t n,
                      double pixel_sigma, double* covariances, std::size_t threads) {
  const auto C = cam.centre_in_store();
  const double s2 = pixel_sigma * pixel_sigma;
  parallel_for(n, [&](std::size_t b, std::size_t e) {
    for (std::size_t i = b; i < e; ++i) {
      double* S = covariances + 4 * i;
      double x, y;
      S[0] = S[1] = S[2] = S[3] = kNaN;
      if (!normalized_from_pixel(cam, pixels[2 * i], pixels[2 * i + 1], x, y)) continue;
      const double dc[3] = {x, y, 1.0};
      double d[3];
      store_from_camera_dir(cam, dc, d);
      const double lambda = -C[2] / d[2];
      if (!(lambda > 0.0) || !std::isfinite(lambda)) continue;
      const double X[3] = {C[0] + lambda * d[0], C[1] + lambda * d[1], 0.0};
      double u, v, J3[6];
      if (!project_point(cam, X, u, v, J3)) continue;
      // Only x and y of the floor point move: the first two columns of d(pixel)/d(X).
      const double a = J3[0], bb = J3[1], c = J3[3], dd = J3[4];
      const double det = a * dd - bb * c;
      if (!(std::fabs(det) > 0.0)) continue;
      // J⁻¹ = [[d, -b], [-c, a]] / det;  cov = σ² J⁻¹ J⁻ᵀ
      const double i00 = dd / det, i01 = -bb / det, i10 = -c / det, i11 = a / det;
      S[0] = s2 * (i00 * i00 + i01 * i01);
      S[1] = S[2] = s2 * (i00 * i10 + i01 * i11);
      S[3] = s2 * (i10 * i10 + i11 * i11);
    }
  }, threads, kMinChunk);
}

void floor_homography(const CameraModel& cam, double H[9]) {
  // Columns r1, r2 of R (the images of the store x and y axes) and t.
  const double M[9] = {cam.R[0], cam.R[1], cam.t[0], cam.R[3], cam.R[4], cam.t[1],
                       cam.R[6], cam.R[7], cam.t[2]};
  const double K[9] = {cam.fx, cam.skew, cam.cx, 0.0, cam.fy, cam.cy, 0.0, 0.0, 1.0};
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c)
      H[3 * r + c] = K[3 * r] * M[c] + K[3 * r + 1] * M[3 + c] + K[3 * r + 2] * M[6 + c];
}

}  // namespace walkout::geometry
