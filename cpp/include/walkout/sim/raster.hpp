// Simulator rasteriser: draws projected capsules (sphere-swept segments, the simulator's body
// parts) into an image with a per-pixel depth test, and measures what each label left visible.
//
// Inputs are image-plane capsules already projected by the caller (Python projects through
// the camera's distortion model with OpenCV): per capsule the two end centres (u, v) in
// pixels, their camera depth z (metres along the optical axis), their projected radius in
// pixels and their world radius in metres. A pixel inside the capsule takes the depth of the
// capsule's front surface there, z_axis - r_world * sqrt(1 - (d / r_px)^2), so a hand in
// front of a torso, or a shelf in front of a leg, occludes it pixel by pixel. Depth 0 or
// negative never wins (the caller drops capsules behind the camera).
//
// Example: a static scene's depth (floor, shelves) is copied into `depth`, then every person's
// capsules are drawn; labels[y, x] says whose part is seen at each pixel (-1: the scene).
#pragma once

#include <cstddef>
#include <cstdint>

namespace walkout::sim {

// Number of doubles per capsule row: u0 v0 z0 rpx0 rw0 u1 v1 z1 rpx1 rw1.
inline constexpr std::size_t kCapsuleCols = 10;

// Draws `n` capsules (rows of kCapsuleCols doubles) with colours (n x 3 bytes, image channel
// order) and ids (n) into image (height x width x 3), depth (height x width) and labels
// (height x width; may be null). Shading: colour * (0.5 + 0.5 * q), q = sqrt(1 - (d/r)^2), so
// a part looks round. Colours round half up. Deterministic: capsules are drawn in order and a
// tie in depth keeps the pixel drawn first.
void draw_capsules(std::uint8_t* image, float* depth, std::int32_t* labels, int height, int width,
                   const double* capsules, const std::uint8_t* colours, const std::int32_t* ids,
                   std::size_t n);

// For labels 0..n-1 in a (height x width) label image: out rows (x_min, y_min, x_max, y_max,
// count) with inclusive pixel bounds; a label never seen gets (-1, -1, -1, -1, 0). Labels
// outside [0, n) are ignored.
void label_boxes(const std::int32_t* labels, int height, int width, std::size_t n,
                 std::int32_t* out);

// Per id 0..n_ids-1, the number of image pixels inside the union of that id's capsules with
// nothing else in the scene (same inside test as draw_capsules): the person's silhouette as if
// no shelf and nobody else were there, so visible / silhouette is how much of it is occluded.
// Ids outside [0, n_ids) are ignored. out has n_ids entries.
void silhouette_areas(int height, int width, const double* capsules, const std::int32_t* ids,
                      std::size_t n, std::size_t n_ids, std::int64_t* out);

}  // namespace walkout::sim
