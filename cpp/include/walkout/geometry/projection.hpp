// Projection between the store frame and one camera's image, in batches.
//
// Inputs and outputs are row-major float64 arrays. A point that has no answer (behind the
// camera, a ray parallel to the plane or hitting it behind the camera, an undistortion that
// does not converge) gets NaN in every output component, so one bad detection never hides
// the others in its batch. Every function splits its batch over `threads` threads (0 = one
// per core) and must be called without the GIL.
#pragma once

#include <cstddef>

#include "walkout/geometry/camera_model.hpp"

namespace walkout::geometry {

// image_from_store: (n, 3) store points -> (n, 2) pixels, with distortion.
void image_from_store(const CameraModel& cam, const double* points, std::size_t n,
                      double* pixels, std::size_t threads = 0);

// undistort_pixels: (n, 2) distorted pixels -> (n, 2) pixels of the same camera without
// distortion (the pinhole image through the same K).
void undistort_pixels(const CameraModel& cam, const double* pixels, std::size_t n, double* out,
                      std::size_t threads = 0);

// rays_from_image: (n, 2) pixels -> (n, 3) unit ray directions in the store frame; every ray
// starts at cam.centre_in_store().
void rays_from_image(const CameraModel& cam, const double* pixels, std::size_t n,
                     double* directions, std::size_t threads = 0);

// plane_from_image: (n, 2) pixels -> (n, 3) store points where each pixel's ray meets the
// plane normal · X = offset (normal need not be unit). The floor is normal (0, 0, 1), offset 0.
void plane_from_image(const CameraModel& cam, const double* pixels, std::size_t n,
                      const double normal[3], double offset, double* points,
                      std::size_t threads = 0);

// floor_from_image: (n, 2) pixels -> (n, 2) floor points (x, y) at z = 0.
void floor_from_image(const CameraModel& cam, const double* pixels, std::size_t n,
                      double* floor_xy, std::size_t threads = 0);

// floor_covariance: (n, 2) pixels -> (n, 2, 2) covariance of the floor point in m², for
// isotropic pixel noise of standard deviation pixel_sigma. First order: with J the 2x2
// Jacobian d(pixel)/d(floor xy) at the back-projected point, cov = σ² J⁻¹ J⁻ᵀ. It grows with
// distance and obliquity, which is what the floor tracker needs to trust near views more.
void floor_covariance(const CameraModel& cam, const double* pixels, std::size_t n,
                      double pixel_sigma, double* covariances, std::size_t threads = 0);

// floor_homography: the 3x3 H (row-major) with (u, v, 1) ~ H (x, y, 1) for undistorted
// pixels, i.e. K [r1 r2 t]. Exact only for a distortion-free camera; undistort first.
void floor_homography(const CameraModel& cam, double H[9]);

// Single-point building blocks, shared with triangulation.

// Projects one store point; returns false when it is not in front of the camera. With
// J != nullptr fills the 2x3 Jacobian d(u, v)/d(X), row-major.
bool project_point(const CameraModel& cam, const double X[3], double& u, double& v,
                   double* J = nullptr);

// Normalized undistorted coordinates of a pixel; false when undistortion fails.
bool normalized_from_pixel(const CameraModel& cam, double u, double v, double& x, double& y);

}  // namespace walkout::geometry
