// Rays against an oriented box (a shelf in the store frame): where a wrist ray enters and
// leaves the shelf, and through which face. Slab method (Kay & Kajiya 1986) in the box's
// own frame.
#pragma once

#include <cstddef>

namespace walkout::geometry {

struct OrientedBox {
  double centre[3];      // store frame, metres
  double rotation[9];    // store_from_box, row-major: its columns are the box axes in the store
  double half_size[3];   // half extents along the box axes, metres (>= 0)
};

// origins, directions: (n, 3). Outputs (n,): t_enter, t_exit with the hit points at
// origin + t · direction (in units of |direction|), and the face the ray enters through:
// 0/1 = -x/+x, 2/3 = -y/+y, 4/5 = -z/+z of the box frame (for a shelf, +y is the front face).
// A ray whose origin lies inside the box has t_enter < 0 and face -1. A miss, or a box
// entirely behind the origin, gives NaN, NaN, -1.
void intersect_rays_box(const OrientedBox& box, const double* origins, const double* directions,
                        std::size_t n, double* t_enter, double* t_exit, int* face,
                        std::size_t threads = 0);

}  // namespace walkout::geometry
