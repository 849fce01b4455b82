// Python bindings of the interact room (cpp/src/interact/). Registered by module.cpp into
// walkout._core. Names carry an Interact / interact_ prefix: the module namespace is shared by
// every room. The typed face is python/walkout/interact.py.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ndarray.hpp"
#include "params_class.hpp"
#include "walkout/geometry/camera_model.hpp"
#include "walkout/interact/engine.hpp"
#include "walkout/interact/hand_boxes.hpp"
#include "walkout/interact/hands3d.hpp"
#include "walkout/interact/shelf_model.hpp"

namespace py = pybind11;

namespace walkout::bindings {
namespace {

using namespace walkout::interact;

ShelfModel make_shelves(const carray<double>& boxes, const carray<std::int32_t>& grid,
                        const carray<bool>& open_faces, double face_margin) {
  require_shape(boxes, "boxes", {-1, 7});
  const py::ssize_t n = boxes.shape(0);
  require_shape(grid, "grid", {n, 2});
  require_shape(open_faces, "open_faces", {n, 2});
  std::vector<ShelfBox> shelves(static_cast<std::size_t>(n));
  auto b = boxes.unchecked<2>();
  auto g = grid.unchecked<2>();
  auto o = open_faces.unchecked<2>();
  for (py::ssize_t i = 0; i < n; ++i) {
    ShelfBox& s = shelves[static_cast<std::size_t>(i)];
    s.cx = b(i, 0);
    s.cy = b(i, 1);
    s.yaw = b(i, 2);
    s.length = b(i, 3);
    s.depth = b(i, 4);
    s.height = b(i, 5);
    s.base_height = b(i, 6);
    s.rows = g(i, 0);
    s.cols = g(i, 1);
    s.front = o(i, 0);
    s.back = o(i, 1);
  }
  return ShelfModel(shelves, face_margin);
}

int face_index(const ShelfModel& m, int face) {
  if (face < 0 || static_cast<std::size_t>(face) >= m.faces().size())
    throw std::invalid_argument("face: expected an index in [0, " +
                                std::to_string(m.faces().size()) + "), got " + std::to_string(face));
  return face;
}

py::array_t<double> coords_array(const std::vector<FaceCoords>& cs) {
  py::array_t<double> out({static_cast<py::ssize_t>(cs.size()), py::ssize_t{4}});
  auto o = out.mutable_unchecked<2>();
  for (std::size_t i = 0; i < cs.size(); ++i) {
    const auto r = static_cast<py::ssize_t>(i);
    o(r, 0) = cs[i].depth;
    o(r, 1) = cs[i].effective;
    o(r, 2) = cs[i].u;
    o(r, 3) = cs[i].v;
  }
  return out;
}

py::tuple events_tuple(UpdateResult&& r) {
  return py::make_tuple(py::cast(std::move(r.reaches)), py::cast(std::move(r.dwells)));
}

}  // namespace

void bind_interact(py::module_& m) {
  m.def(
      "interact_assign_hand_boxes",
      [](const carray<double>& boxes, const carray<double>& keypoints, double min_confidence,
         double hand_offset, double max_distance_px) {
        require_shape(boxes, "boxes", {-1, 4});
        require_shape(keypoints, "keypoints", {-1, 17, 3});
        const auto k = static_cast<std::size_t>(boxes.shape(0));
        const auto n = static_cast<std::size_t>(keypoints.shape(0));
        HandBoxParams p;
        p.min_confidence = min_confidence;
        p.hand_offset = hand_offset;
        p.max_distance_px = max_distance_px;
        py::array_t<std::int64_t> person(static_cast<py::ssize_t>(k));
        py::array_t<std::int32_t> side(static_cast<py::ssize_t>(k));
        const double* b = boxes.data();
        const double* kp = keypoints.data();
        std::int64_t* po = person.mutable_data();
        std::int32_t* so = side.mutable_data();
        {
          // Safe: inputs are C-contiguous float64 arrays and outputs fresh arrays, all held by
          // this frame; nothing else is touched.
          py::gil_scoped_release release;
          assign_hand_boxes(b, k, kp, n, p, po, so);
        }
        return py::make_tuple(person, side);
      },
      py::arg("boxes"), py::arg("keypoints"), py::kw_only(), py::arg("min_confidence"),
      py::arg("hand_offset"), py::arg("max_distance_px"),
      "Hand boxes (K, 4) xyxy to the nearest arm of the persons' keypoints (N, 17, 3) -> "
      "(person (K,) int64, side (K,) int32), -1 where none is within max_distance_px.");

  py::class_<ShelfModel>(m, "InteractShelves",
                         "Shelves as oriented boxes with open faces and slot grids (C++).")
      .def(py::init(&make_shelves), py::arg("boxes"), py::arg("grid"), py::arg("open_faces"),
           py::arg("face_margin"),
           "boxes (S, 7): cx, cy, yaw, length, depth, height, base_height; grid (S, 2) int32: "
           "rows, cols; open_faces (S, 2) bool: front, back; face_margin metres.")
      .def(
          "add_zone",
          [](ShelfModel& self, int shelf, const carray<double>& polygon) {
            require_shape(polygon, "polygon", {-1, 2});
            if (polygon.shape(0) < 3)
              throw std::invalid_argument("polygon: expected shape (k, 2) with k >= 3, got " +
                                          actual_shape(polygon));
            self.add_zone(shelf, std::vector<double>(polygon.data(), polygon.data() + polygon.size()));
          },
          py::arg("shelf"), py::arg("polygon"))
      .def_property_readonly("shelf_count", &ShelfModel::shelf_count)
      .def_property_readonly("slot_count", &ShelfModel::slot_count)
      .def_property_readonly("zone_count", &ShelfModel::zone_count)
      .def_property_readonly("face_margin", &ShelfModel::face_margin)
      .def(
          "zone_shelf",
          [](const ShelfModel& self, int zone) {
            if (zone < 0 || static_cast<std::size_t>(zone) >= self.zone_count())
              throw std::invalid_argument("zone: expected an index in [0, zone_count)");
            return self.zone_shelf(static_cast<std::size_t>(zone));
          },
          py::arg("zone"))
      .def(
          "faces",
          [](const ShelfModel& self) {
            const auto& fs = self.faces();
            py::array_t<std::int32_t> out({static_cast<py::ssize_t>(fs.size()), py::ssize_t{5}});
            auto o = out.mutable_unchecked<2>();
            for (std::size_t i = 0; i < fs.size(); ++i) {
              const auto r = static_cast<py::ssize_t>(i);
              o(r, 0) = fs[i].shelf;
              o(r, 1) = fs[i].side;
              o(r, 2) = fs[i].rows;
              o(r, 3) = fs[i].cols;
              o(r, 4) = fs[i].first_slot;
            }
            return out;
          },
          "(F, 5) int32: shelf, side (0 front, 1 back), rows, cols, first_slot per face.")
      .def(
          "nearest_face",
          [](const ShelfModel& self, const carray<double>& points) {
            require_shape(points, "points", {-1, 3});
            const auto n = static_cast<std::size_t>(points.shape(0));
            const double* p = points.data();
            std::vector<int> faces(n);
            std::vector<FaceCoords> cs(n);
            {
              // Safe: `points` is a C-contiguous float64 array held by this frame; the loop
              // touches only it and C++ vectors.
              py::gil_scoped_release release;
              for (std::size_t i = 0; i < n; ++i) faces[i] = self.nearest_face(p + 3 * i, &cs[i]);
            }
            py::array_t<std::int32_t> f(static_cast<py::ssize_t>(n));
            std::copy(faces.begin(), faces.end(), f.mutable_data());
            return py::make_tuple(f, coords_array(cs));
          },
          py::arg("points"),
          "points (N, 3) -> (face (N,) int32, coords (N, 4): depth, effective, u, v).")
      .def(
          "face_coords",
          [](const ShelfModel& self, int face, const carray<double>& points) {
            face_index(self, face);
            require_shape(points, "points", {-1, 3});
            const auto n = static_cast<std::size_t>(points.shape(0));
            std::vector<FaceCoords> cs(n);
            const double* p = points.data();
            {
              // Safe: `points` is a C-contiguous float64 array held by this frame.
              py::gil_scoped_release release;
              for (std::size_t i = 0; i < n; ++i) cs[i] = self.face_coords(face, p + 3 * i);
            }
            return coords_array(cs);
          },
          py::arg("face"), py::arg("points"))
      .def(
          "slot_of",
          [](const ShelfModel& self, int face, const carray<double>& uv) {
            face_index(self, face);
            require_shape(uv, "uv", {-1, 2});
            py::array_t<std::int32_t> out(uv.shape(0));
            auto* o = out.mutable_data();
            for (py::ssize_t i = 0; i < uv.shape(0); ++i)
              o[i] = self.slot_of(face, uv.data()[2 * i], uv.data()[2 * i + 1]);
            return out;
          },
          py::arg("face"), py::arg("uv"))
      .def(
          "slot_probabilities",
          [](const ShelfModel& self, int face, double u, double v, double sigma) {
            face_index(self, face);
            const Face& f = self.faces()[static_cast<std::size_t>(face)];
            py::array_t<double> out({py::ssize_t{f.rows}, py::ssize_t{f.cols}});
            self.slot_probabilities(face, u, v, sigma, out.mutable_data());
            return out;
          },
          py::arg("face"), py::arg("u"), py::arg("v"), py::arg("sigma"),
          "(rows, cols) probability of each cell of the face under N((u, v), sigma^2 I).")
      .def(
          "zone_contains",
          [](const ShelfModel& self, int zone, const carray<double>& xy) {
            if (zone < 0 || static_cast<std::size_t>(zone) >= self.zone_count())
              throw std::invalid_argument("zone: expected an index in [0, zone_count)");
            require_shape(xy, "xy", {-1, 2});
            py::array_t<bool> out(xy.shape(0));
            auto* o = out.mutable_data();
            const double* p = xy.data();
            const py::ssize_t n = xy.shape(0);
            {
              // Safe: `xy` and `out` are C-contiguous arrays held by this frame.
              py::gil_scoped_release release;
              for (py::ssize_t i = 0; i < n; ++i)
                o[i] = self.zone_contains(static_cast<std::size_t>(zone), p[2 * i], p[2 * i + 1]);
            }
            return out;
          },
          py::arg("zone"), py::arg("xy"));

  py::class_<ReachEvent>(m, "InteractReach", "A closed reach (see walkout.interact.Reach).")
      .def_readonly("track", &ReachEvent::track)
      .def_readonly("hand", &ReachEvent::hand)
      .def_readonly("shelf", &ReachEvent::shelf)
      .def_readonly("face", &ReachEvent::face)
      .def_readonly("slot", &ReachEvent::slot)
      .def_readonly("start", &ReachEvent::start)
      .def_readonly("end", &ReachEvent::end)
      .def_readonly("max_depth", &ReachEvent::max_depth)
      .def_readonly("confidence", &ReachEvent::confidence)
      .def_readonly("lost", &ReachEvent::lost)
      .def_readonly("slot_probs", &ReachEvent::slot_probs);

  py::class_<DwellEvent>(m, "InteractDwell", "A closed dwell (see walkout.interact.Dwell).")
      .def_readonly("track", &DwellEvent::track)
      .def_readonly("shelf", &DwellEvent::shelf)
      .def_readonly("zone", &DwellEvent::zone)
      .def_readonly("enter", &DwellEvent::enter)
      .def_readonly("leave", &DwellEvent::leave);

  ParamsClass<EngineParams>(
      m, "InteractEngineParams",
      "Parameters of the reach state machines and dwell timers (C++ EngineParams, "
      "walkout/interact/engine.hpp; metres, seconds). The defaults are the tuned ones the edge "
      "pipeline runs (oracle tuning seeds 11-15, 31-45).")
      .field("enter_depth", &EngineParams::enter_depth,
             "Effective depth behind a face (m) at which a reach starts. Raising it ignores hands "
             "hovering at the face and more wrist noise but misses shallow grabs of front items.")
      .field("exit_depth", &EngineParams::exit_depth,
             "Depth below which the hand counts as out; must be < enter_depth (the gap is the "
             "hysteresis). Raising it ends reaches sooner and lets jitter dip out; lowering it "
             "holds reaches open while a hand lingers at the face.")
      .field("min_inside_s", &EngineParams::min_inside_s,
             "Seconds a hand must stay in before a reach counts. Raising it rejects brushes and "
             "noise spikes but drops quick grabs.")
      .field("min_outside_s", &EngineParams::min_outside_s,
             "Seconds a hand must stay out before its reach closes (a return sooner continues "
             "it). Raising it merges separate quick reaches and delays events; lowering it "
             "splits a reach whose depth dips briefly.")
      .field("hand_lost_s", &EngineParams::hand_lost_s,
             "Seconds without a sample after which a hand's open reach closes as lost. Raising "
             "it bridges longer wrist occlusions but holds events back.")
      .field("hand_motion_std", &EngineParams::hand_motion_std,
             "Process noise (m per sqrt s) of the per-hand smoothing filter. Raising it follows "
             "fast hands sooner and passes more noise; lowering it lags quick reaches. 0: off.")
      .field("duplicate_radius", &EngineParams::duplicate_radius,
             "Metres within which a reach of another track at the same face and time (a track "
             "split), or one after the same hand's lost reach, is dropped as a duplicate. "
             "Raising it also drops real reaches of neighbours; lowering it double-counts. 0: off.")
      .field("max_behind_face", &EngineParams::max_behind_face,
             "Metres the track's floor point may stand behind a face's plane when a reach "
             "through it starts. Raising it lets idle hands beside a shelf end start reaches; "
             "lowering it below the track's floor noise drops real ones. inf: off.")
      .field("lost_confidence", &EngineParams::lost_confidence,
             "Confidence factor of a reach closed by a lost track or hand.")
      .field("slot_prob_min", &EngineParams::slot_prob_min,
             "Slot probabilities below this are left out of an event.")
      .field("dwell_exit_s", &EngineParams::dwell_exit_s,
             "Seconds a track must be out of a zone before its dwell closes. Raising it keeps one "
             "dwell through short steps out; lowering it splits dwells at the zone's edge.")
      .field("min_dwell_s", &EngineParams::min_dwell_s,
             "Shortest dwell emitted, seconds. Raising it keeps passers-by out of analytics.")
      .finish();

  py::class_<InteractionEngine>(m, "InteractEngine", "Reach state machines and dwell (C++).")
      .def(py::init([](const ShelfModel& shelves, const std::optional<EngineParams>& params,
                       const py::kwargs& overrides) {
             EngineParams p = params.value_or(EngineParams{});
             ParamsClass<EngineParams>::apply(p, overrides);
             return InteractionEngine(shelves, p);
           }),
           py::arg("shelves"), py::arg("params") = py::none(),
           "params: InteractEngineParams (None: the defaults); keyword arguments replace "
           "single fields of it.")
      .def_property_readonly("params", [](const InteractionEngine& e) { return e.params(); },
                             "The InteractEngineParams it runs with (a copy).")
      .def(
          "update",
          [](InteractionEngine& self, double t, const carray<std::int64_t>& track_ids,
             const carray<double>& track_xy, const carray<std::int64_t>& hand_track,
             const carray<std::int32_t>& hand_side, const carray<double>& hand_xyz,
             const carray<double>& hand_sigma) {
            require_shape(track_ids, "track_ids", {-1});
            const py::ssize_t n = track_ids.shape(0);
            require_shape(track_xy, "track_xy", {n, 2});
            require_shape(hand_track, "hand_track", {-1});
            const py::ssize_t k = hand_track.shape(0);
            require_shape(hand_side, "hand_side", {k});
            require_shape(hand_xyz, "hand_xyz", {k, 3});
            require_shape(hand_sigma, "hand_sigma", {k});
            const std::int64_t* ids = track_ids.data();
            const double* xy = track_xy.data();
            const std::int64_t* ht = hand_track.data();
            const std::int32_t* hs = hand_side.data();
            const double* hx = hand_xyz.data();
            const double* sg = hand_sigma.data();
            UpdateResult r;
            {
              // Safe: the inputs are C-contiguous arrays held by this frame and the engine is
              // plain C++ state; a second thread calling into the same engine is the caller's
              // race, as for any Python object without its own lock.
              py::gil_scoped_release release;
              r = self.update(t, ids, xy, static_cast<std::size_t>(n), ht, hs, hx, sg,
                              static_cast<std::size_t>(k));
            }
            return events_tuple(std::move(r));
          },
          py::arg("t"), py::arg("track_ids"), py::arg("track_xy"), py::arg("hand_track"),
          py::arg("hand_side"), py::arg("hand_xyz"), py::arg("hand_sigma"),
          "One frameset -> (reaches, dwells) that closed in it.")
      .def("close_all", [](InteractionEngine& self) { return events_tuple(self.close_all()); })
      .def_property_readonly("open_reaches", &InteractionEngine::open_reaches)
      .def_property_readonly("track_count", &InteractionEngine::track_count);

  py::class_<HandLocator>(m, "InteractHandLocator",
                          "Hands in 3-D from per-camera pose keypoints of tracked people (C++).")
      .def(py::init([](std::vector<geometry::CameraModel> cameras, const ShelfModel& shelves,
                       double min_wrist_confidence, double min_arm_confidence,
                       double max_residual_px, double pixel_sigma, double forearm_ratio,
                       double elbow_flexion, double arm_sigma, double max_hand_distance,
                       double max_face_distance, double hidden_depth, double prior_height,
                       double max_facing_cosine, double max_prior_distance,
                       double single_view_sigma, int max_person_views, bool hidden_single_view,
                       double max_arm_reach, double min_hidden_wrist_confidence,
                       double hidden_pixel_sigma) {
             HandLocatorParams p;
             p.min_wrist_confidence = min_wrist_confidence;
             p.min_arm_confidence = min_arm_confidence;
             p.max_residual_px = max_residual_px;
             p.pixel_sigma = pixel_sigma;
             p.forearm_ratio = forearm_ratio;
             p.elbow_flexion = elbow_flexion;
             p.arm_sigma = arm_sigma;
             p.max_hand_distance = max_hand_distance;
             p.max_face_distance = max_face_distance;
             p.hidden_depth = hidden_depth;
             p.prior_height = prior_height;
             p.max_facing_cosine = max_facing_cosine;
             p.max_prior_distance = max_prior_distance;
             p.single_view_sigma = single_view_sigma;
             p.max_person_views = max_person_views;
             p.hidden_single_view = hidden_single_view;
             p.max_arm_reach = max_arm_reach;
             p.min_hidden_wrist_confidence = min_hidden_wrist_confidence;
             p.hidden_pixel_sigma = hidden_pixel_sigma;
             return HandLocator(std::move(cameras), shelves, p);
           }),
           py::arg("cameras"), py::arg("shelves"), py::kw_only(), py::arg("min_wrist_confidence"),
           py::arg("min_arm_confidence"), py::arg("max_residual_px"), py::arg("pixel_sigma"),
           py::arg("forearm_ratio"), py::arg("elbow_flexion"), py::arg("arm_sigma"),
           py::arg("max_hand_distance"), py::arg("max_face_distance"), py::arg("hidden_depth"),
           py::arg("prior_height"), py::arg("max_facing_cosine"), py::arg("max_prior_distance"),
           py::arg("single_view_sigma"), py::arg("max_person_views"),
           py::arg("hidden_single_view"), py::arg("max_arm_reach"),
           py::arg("min_hidden_wrist_confidence"), py::arg("hidden_pixel_sigma"))
      .def_property_readonly("camera_count", &HandLocator::camera_count)
      .def(
          "locate",
          [](const HandLocator& self, const carray<double>& keypoints, const carray<double>& track_xy) {
            const auto C = static_cast<py::ssize_t>(self.camera_count());
            require_shape(keypoints, "keypoints", {-1, C, 17, 3});
            const py::ssize_t n = keypoints.shape(0);
            require_shape(track_xy, "track_xy", {n, 2});
            std::vector<HandEstimate> est(static_cast<std::size_t>(2 * n));
            const double* kp = keypoints.data();
            const double* xy = track_xy.data();
            {
              // Safe: both inputs are C-contiguous float64 arrays held by this frame; the
              // locator only reads its own C++ state.
              py::gil_scoped_release release;
              self.locate(kp, xy, static_cast<std::size_t>(n), est.data());
            }
            py::array_t<double> xyz({n, py::ssize_t{2}, py::ssize_t{3}});
            py::array_t<double> sigma({n, py::ssize_t{2}});
            py::array_t<std::int8_t> source({n, py::ssize_t{2}});
            py::array_t<std::int32_t> views({n, py::ssize_t{2}});
            double* o = xyz.mutable_data();
            for (std::size_t i = 0; i < est.size(); ++i) {
              std::copy(est[i].xyz, est[i].xyz + 3, o + 3 * i);
              sigma.mutable_data()[i] = est[i].sigma;
              source.mutable_data()[i] = static_cast<std::int8_t>(est[i].source);
              views.mutable_data()[i] = est[i].views;
            }
            return py::make_tuple(xyz, sigma, source, views);
          },
          py::arg("keypoints"), py::arg("track_xy"),
          "keypoints (N, C, 17, 3) u, v, confidence per person and camera; track_xy (N, 2) -> "
          "(xyz (N, 2, 3), sigma (N, 2), source (N, 2) int8, views (N, 2) int32), left hand first.");
}

}  // namespace walkout::bindings
