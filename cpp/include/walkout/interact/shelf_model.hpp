// Shelves as oriented boxes in the store frame, their open faces, and the slot grid on each face.
//
// Input: one ShelfBox per shelf of the store config (python/walkout/config/store.py): footprint
// centre, yaw, length (local x), depth (local y), height, base height, rows, cols, which faces
// are open, and the engagement polygons on the floor.
// Output: queries on 3-D points (metres, store frame, z up):
//   nearest_face(p)   -> the open face a hand at p would be reaching through, with its depth;
//   face_coords(f, p) -> (depth behind the face plane, effective depth, u along, v up);
//   slot_of(f, u, v)  -> the slot cell; slot_probabilities(f, u, v, sigma) -> mass per cell;
//   zone_contains(z, x, y) -> floor point in an engagement polygon.
// Example: a shelf centred at (4, 5.2), yaw 0, depth 0.6 has its front face at y = 5.5 with
// outward normal +y; a hand at (4, 5.45, 1.0) is 0.05 m behind that face.
//
// Frames of a face: n is the outward normal on the floor ((−sin yaw, cos yaw) for the front,
// its negative for the back); u runs along the shelf's local +x from its −x end (col 0 at the
// local −x end on both faces, as the config defines it); v runs up from base_height (row 0 at
// the bottom). Slot index of a cell = face.first_slot + row * cols + col, dense over all faces.
#pragma once

#include <cstddef>
#include <vector>

namespace walkout::interact {

struct ShelfBox {
  double cx = 0, cy = 0;      // footprint centre, metres
  double yaw = 0;             // rotation about z, radians
  double length = 1;          // along local x, metres
  double depth = 0.5;         // along local y, metres
  double height = 1.8;        // top of the box, metres
  double base_height = 0.1;   // bottom of the lowest slot row, metres
  int rows = 1, cols = 1;     // slot grid per face
  bool front = true;          // local +y face open
  bool back = false;          // local −y face open
};

struct Face {
  int shelf = 0;              // index into the shelf list
  int side = 0;               // 0 front, 1 back
  double ox = 0, oy = 0;      // point on the face plane at u = 0 (the shelf's local −x end)
  double ax = 1, ay = 0;      // unit vector of u (the shelf's local +x)
  double nx = 0, ny = 1;      // outward unit normal
  double length = 1;          // u extent
  double z0 = 0, z1 = 1;      // v = z − z0 in [0, z1 − z0]
  double half_depth = 0.25;   // half the shelf depth (the back plane is 2·half_depth behind)
  int rows = 1, cols = 1;
  int first_slot = 0;
};

// Where a point sits relative to one face.
struct FaceCoords {
  double depth = 0;  // behind the face plane along −n (positive = inside the shelf), metres
  // min(depth, distance to the back plane, distance inside the face rectangle grown by the
  // margin): the signed distance into the shelf box seen through this face (its sides, top
  // and bottom grown by the margin). Continuous in p, so crossing times interpolate.
  double effective = 0;
  double u = 0, v = 0;  // along the face from its −x end, up from base_height, metres
};

class ShelfModel {
 public:
  // Most rows or columns per face: the store config allows 16 rows and 64 columns; the
  // per-sample slot probabilities use fixed stack buffers of this size.
  static constexpr int kMaxGrid = 64;

  // Throws std::invalid_argument naming the shelf and field for a non-positive size, rows or
  // cols outside [1, kMaxGrid], no open face, or a base at or above the top.
  ShelfModel(const std::vector<ShelfBox>& shelves, double face_margin);

  void add_zone(int shelf, std::vector<double> polygon_xy);  // (k, 2) flattened, k >= 3

  const std::vector<Face>& faces() const { return faces_; }
  std::size_t shelf_count() const { return shelves_; }
  int slot_count() const { return slot_count_; }
  std::size_t zone_count() const { return zones_.size(); }
  int zone_shelf(std::size_t z) const { return zone_shelf_[z]; }
  double face_margin() const { return margin_; }

  FaceCoords face_coords(int face, const double p[3]) const;
  // The face a hand at p reaches through: per shelf the open face whose plane is nearer
  // (smaller depth), then over shelves the largest effective depth. -1 when there are no faces.
  int nearest_face(const double p[3], FaceCoords* coords) const;
  // Cell containing (u, v), clamped to the grid (the margin belongs to the edge cells).
  int slot_of(int face, double u, double v) const;
  // Probability mass of each cell under an isotropic Gaussian (sigma metres) at (u, v) on the
  // face, the edge cells extending to infinity (the hand is known to be at this face). Writes
  // rows*cols values in row-major order; sigma <= 0 puts all mass on slot_of.
  void slot_probabilities(int face, double u, double v, double sigma, double* out) const;
  bool zone_contains(std::size_t zone, double x, double y) const;

 private:
  std::vector<Face> faces_;
  std::vector<int> shelf_first_face_, shelf_face_count_;
  std::vector<std::vector<double>> zones_;
  std::vector<double> zone_boxes_;  // per zone x0, y0, x1, y1: a cheap reject before the polygon
  std::vector<int> zone_shelf_;
  std::size_t shelves_ = 0;
  int slot_count_ = 0;
  double margin_ = 0;
};

}  // namespace walkout::interact
