// Python bindings of the track room (cpp/src/track/). Registered by module.cpp into walkout._core.
// Names carry a track_ / Track prefix: the module namespace is shared by every room.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

#include "ndarray.hpp"
#include "walkout/track/assignment.hpp"
#include "walkout/track/box_tracker.hpp"
#include "walkout/track/floor_tracker.hpp"
#include "walkout/track/fusion.hpp"
#include "walkout/track/kalman.hpp"

namespace py = pybind11;

namespace walkout::bindings {
namespace {

using namespace walkout::track;

template <class T>
py::array_t<T> to_numpy(const std::vector<T>& v, std::initializer_list<py::ssize_t> shape) {
  py::array_t<T> a{std::vector<py::ssize_t>(shape)};
  if (!v.empty()) std::copy(v.begin(), v.end(), a.mutable_data());
  return a;
}

py::tuple linear_assignment_py(const carray<double>& cost, std::optional<double> cost_limit) {
  if (cost.ndim() != 2)
    throw std::invalid_argument("cost: expected a 2-D array of shape (rows, cols), got " +
                                actual_shape(cost));
  const auto r = static_cast<std::size_t>(cost.shape(0)), c = static_cast<std::size_t>(cost.shape(1));
  const double* data = cost.data();
  const auto k = static_cast<py::ssize_t>(std::min(r, c));
  py::array_t<std::int64_t> rows(k), cols(k);
  std::int64_t* ro = rows.mutable_data();
  std::int64_t* co = cols.mutable_data();
  std::size_t n = 0;
  if (r * c <= 4096) {
    // Small problems (the per-frame tracking case) take about a microsecond: releasing and
    // re-taking the GIL would cost a noticeable share of that and free nobody for long.
    n = linear_assignment(data, r, c, cost_limit.has_value(), cost_limit.value_or(0.0), ro, co);
  } else {
    // Safe: `cost`, `rows` and `cols` are arrays owned by this frame; the solver only sees
    // their raw buffers and touches no Python object until the GIL is back.
    py::gil_scoped_release release;
    n = linear_assignment(data, r, c, cost_limit.has_value(), cost_limit.value_or(0.0), ro, co);
  }
  if (static_cast<py::ssize_t>(n) == k) return py::make_tuple(rows, cols);
  // Fewer pairs (a cost limit left some out): return exactly-sized arrays.
  const auto m = static_cast<py::ssize_t>(n);
  py::array_t<std::int64_t> rows_n(m), cols_n(m);
  std::copy_n(ro, n, rows_n.mutable_data());
  std::copy_n(co, n, cols_n.mutable_data());
  return py::make_tuple(rows_n, cols_n);
}

// In-place batched Kalman arrays: exactly float64, C-contiguous, writeable, (N, D) and (N, D, D).
struct Batch {
  double* mean;
  double* cov;
  std::size_t n;
};

Batch batch_of(py::array& means, py::array& covs, py::ssize_t D) {
  require_exact<double>(means, "means");
  require_exact<double>(covs, "covariances");
  require_shape(means, "means", {-1, D});
  require_shape(covs, "covariances", {means.shape(0), D, D});
  if (!means.writeable()) throw std::invalid_argument("means: expected a writeable array (updated in place)");
  if (!covs.writeable()) throw std::invalid_argument("covariances: expected a writeable array (updated in place)");
  return {static_cast<double*>(means.mutable_data()), static_cast<double*>(covs.mutable_data()),
          static_cast<std::size_t>(means.shape(0))};
}

// dt: a number for all tracks or one per track.
std::vector<double> dt_of(const py::object& dt, std::size_t n) {
  // A plain number is the common case; turning it into a 0-d array first costs a microsecond.
  if (py::isinstance<py::float_>(dt) || py::isinstance<py::int_>(dt))
    return std::vector<double>(n, dt.cast<double>());
  carray<double> a = py::cast<carray<double>>(dt);
  if (a.ndim() == 0) return std::vector<double>(n, *a.data());
  require_shape(a, "dt", {static_cast<py::ssize_t>(n)});
  return std::vector<double>(a.data(), a.data() + n);
}

void check_dt(const std::vector<double>& dt) {
  for (double d : dt)
    if (!std::isfinite(d) || d < 0) throw std::invalid_argument("dt: expected finite seconds >= 0");
}

void box_predict_py(py::array means, py::array covs, const py::object& dt_obj, double position_noise,
                    double velocity_noise) {
  Batch b = batch_of(means, covs, 8);
  const std::vector<double> dt = dt_of(dt_obj, b.n);
  check_dt(dt);
  BoxNoise noise;
  noise.position_per_sqrt_s = position_noise;
  noise.velocity_per_sqrt_s = velocity_noise;
  // Safe: plain pointers into arrays held by the caller's frame; no Python objects touched.
  py::gil_scoped_release release;
  for (std::size_t k = 0; k < b.n; ++k) {
    double qa[4], qb[4], qc[4];
    kalman::box_process_noise(b.mean + k * 8, dt[k], noise, qa, qb, qc);
    kalman::cv_predict<4>(b.mean + k * 8, b.cov + k * 64, dt[k], qa, qb, qc);
  }
}

void box_update_py(py::array means, py::array covs, const carray<double>& z, double measurement_noise) {
  Batch b = batch_of(means, covs, 8);
  require_shape(z, "measurements", {static_cast<py::ssize_t>(b.n), 4});
  BoxNoise noise;
  noise.measurement = measurement_noise;
  const double* zd = z.data();
  std::vector<double> r(b.n * 16, 0.0);
  std::vector<char> ok(b.n);
  {
    // Safe: plain pointers into arrays held by the caller's frame; no Python objects touched.
    py::gil_scoped_release release;
    for (std::size_t k = 0; k < b.n; ++k) {
      double rd[4];
      kalman::box_measurement_noise(b.mean + k * 8, noise, rd);
      for (int i = 0; i < 4; ++i) r[k * 16 + i * 4 + i] = rd[i];
    }
    kalman::cv_update_batch<4>(b.mean, b.cov, zd, r.data(), b.n, ok.data());
  }
  for (char o : ok)
    if (!o) throw std::invalid_argument("covariances: innovation covariance not positive definite");
}

void floor_predict_py(py::array means, py::array covs, const py::object& dt_obj, double acceleration_std) {
  Batch b = batch_of(means, covs, 4);
  const std::vector<double> dt = dt_of(dt_obj, b.n);
  check_dt(dt);
  FloorNoise noise;
  noise.acceleration = acceleration_std;
  // Safe: plain pointers into arrays held by the caller's frame; no Python objects touched.
  py::gil_scoped_release release;
  for (std::size_t k = 0; k < b.n; ++k) {
    double qa[2], qb[2], qc[2];
    kalman::floor_process_noise(dt[k], noise, qa, qb, qc);
    kalman::cv_predict<2>(b.mean + k * 4, b.cov + k * 16, dt[k], qa, qb, qc);
  }
}

void floor_update_py(py::array means, py::array covs, const carray<double>& z, const carray<double>& R) {
  Batch b = batch_of(means, covs, 4);
  require_shape(z, "points", {static_cast<py::ssize_t>(b.n), 2});
  require_shape(R, "point_covariances", {static_cast<py::ssize_t>(b.n), 2, 2});
  const double* zd = z.data();
  const double* rd = R.data();
  std::vector<char> ok(b.n);
  {
    // Safe: plain pointers into arrays held by the caller's frame; no Python objects touched.
    py::gil_scoped_release release;
    kalman::cv_update_batch<2>(b.mean, b.cov, zd, rd, b.n, ok.data());
  }
  for (char o : ok)
    if (!o) throw std::invalid_argument("point_covariances: innovation covariance not positive definite");
}

py::array_t<double> floor_gating_py(const carray<double>& means, const carray<double>& covs,
                                    const carray<double>& z, const carray<double>& R) {
  require_shape(means, "means", {-1, 4});
  require_shape(covs, "covariances", {means.shape(0), 4, 4});
  require_shape(z, "points", {-1, 2});
  require_shape(R, "point_covariances", {z.shape(0), 2, 2});
  const auto n = means.shape(0), m = z.shape(0);
  py::array_t<double> out({n, m});
  double* o = out.mutable_data();
  const double *md = means.data(), *cd = covs.data(), *zd = z.data(), *rd = R.data();
  {
    // Safe: plain pointers into arrays held by this frame; no Python objects touched.
    py::gil_scoped_release release;
    for (py::ssize_t i = 0; i < n; ++i)
      for (py::ssize_t j = 0; j < m; ++j)
        o[i * m + j] = kalman::mahalanobis_sq<2>(md + i * 4, cd + i * 16, zd + j * 2, rd + j * 4);
  }
  return out;
}

// Boxes and scores as the tracker reads them: float32, (N, 4) and (N,).
void check_box_inputs(const carray<float>& boxes, const carray<float>& scores) {
  require_shape(boxes, "boxes_xyxy", {-1, 4});
  require_shape(scores, "scores", {boxes.shape(0)});
}

// All live tracks, then the same five arrays for the tracks the output policy reports
// (confirmed and matched this frame, or lost for at most output_lost_s):
// building that subset here costs five small allocations, against several microseconds of
// numpy masking per frame in Python (the subset is what most callers report).
py::tuple box_tracks_py(const BoxTracks& t) {
  const auto n = static_cast<py::ssize_t>(t.ids.size());
  py::ssize_t m = 0;
  for (py::ssize_t k = 0; k < n; ++k) m += t.reported[k];
  py::array_t<std::int64_t> ids(m), det(m);
  py::array_t<float> boxes({m, py::ssize_t{4}}), scores(m);
  py::array_t<std::int8_t> states(m);
  py::ssize_t r = 0;
  for (py::ssize_t k = 0; k < n; ++k) {
    if (!t.reported[k]) continue;
    ids.mutable_data()[r] = t.ids[k];
    det.mutable_data()[r] = t.det_index[k];
    scores.mutable_data()[r] = t.scores[k];
    states.mutable_data()[r] = t.states[k];
    std::copy_n(&t.boxes[k * 4], 4, boxes.mutable_data() + r * 4);
    ++r;
  }
  return py::make_tuple(to_numpy(t.ids, {n}), to_numpy(t.boxes, {n, 4}), to_numpy(t.states, {n}),
                        to_numpy(t.det_index, {n}), to_numpy(t.scores, {n}),
                        py::make_tuple(ids, boxes, states, det, scores));
}

// BoxTrackerParams as a Python class: one read-write attribute per field, the defaults those
// of the C++ struct (the one place they are written), check() raising ValueError naming the
// field. The Kalman noise fields are flattened under the Python face's names.
void bind_box_tracker_params(py::module_& m) {
  using P = BoxTrackerParams;
  py::class_<P> c(m, "BoxTrackerParams");
  c.def(py::init<>())
      .def("check", &P::check)
      .def_readwrite("fps", &P::fps)
      .def_readwrite("high_score", &P::high_score)
      .def_readwrite("low_score", &P::low_score)
      .def_readwrite("new_track_score", &P::new_track_score)
      .def_readwrite("occluded_birth_score", &P::occluded_birth_score)
      .def_readwrite("occluded_birth_cover", &P::occluded_birth_cover)
      .def_readwrite("confirm_score", &P::confirm_score)
      .def_readwrite("low_extend_s", &P::low_extend_s)
      .def_readwrite("output_lost_s", &P::output_lost_s)
      .def_readwrite("match_iou", &P::match_iou)
      .def_readwrite("low_match_iou", &P::low_match_iou)
      .def_readwrite("tentative_match_iou", &P::tentative_match_iou)
      .def_readwrite("recovery_iou", &P::recovery_iou)
      .def_readwrite("direction_weight", &P::direction_weight)
      .def_readwrite("direction_span_s", &P::direction_span_s)
      .def_readwrite("fuse_score", &P::fuse_score)
      .def_readwrite("min_hits", &P::min_hits)
      .def_readwrite("lost_buffer_s", &P::lost_buffer_s)
      .def_readwrite("observation_reupdate", &P::observation_reupdate);
  auto noise = [&c](const char* name, double BoxNoise::*field) {
    c.def_property(name, [field](const P& p) { return p.noise.*field; },
                   [field](P& p, double v) { p.noise.*field = v; });
  };
  noise("position_noise", &BoxNoise::position_per_sqrt_s);
  noise("velocity_noise", &BoxNoise::velocity_per_sqrt_s);
  noise("measurement_noise", &BoxNoise::measurement);
  noise("initial_position_std", &BoxNoise::initial_position);
  noise("initial_velocity_std", &BoxNoise::initial_velocity);
}

py::tuple floor_tracks_py(const FloorTracks& t) {
  const auto n = static_cast<py::ssize_t>(t.ids.size());
  return py::make_tuple(to_numpy(t.ids, {n}), to_numpy(t.points, {n, 2}), to_numpy(t.states, {n}),
                        to_numpy(t.det_index, {n}), to_numpy(t.scores, {n}),
                        to_numpy(t.velocities, {n, 2}), to_numpy(t.covariances, {n, 2, 2}));
}

py::tuple fuse_views_py(const std::vector<py::object>& points, const std::vector<py::object>& covs,
                        double gate_probability, double model_error_std, double merge_radius_m,
                        std::optional<carray<double>> prior_points,
                        std::optional<carray<double>> prior_covs) {
  if (prior_points.has_value() != prior_covs.has_value())
    throw std::invalid_argument("prior_covariances: expected both prior_points and prior_covariances, or neither");
  ViewObservations priors{nullptr, nullptr, 0};
  if (prior_points) {
    require_shape(*prior_points, "prior_points", {-1, 2});
    require_shape(*prior_covs, "prior_covariances", {prior_points->shape(0), 2, 2});
    priors = {prior_points->data(), prior_covs->data(), static_cast<std::size_t>(prior_points->shape(0))};
  }
  if (points.size() != covs.size())
    throw std::invalid_argument("covs_per_camera: expected one (N, 2, 2) array per camera (" +
                                std::to_string(points.size()) + "), got " + std::to_string(covs.size()));
  std::vector<carray<double>> pa, ca;
  std::vector<ViewObservations> views;
  for (std::size_t c = 0; c < points.size(); ++c) {
    pa.push_back(py::cast<carray<double>>(points[c]));
    ca.push_back(py::cast<carray<double>>(covs[c]));
    const std::string pn = "points_per_camera[" + std::to_string(c) + "]";
    const std::string cn = "covs_per_camera[" + std::to_string(c) + "]";
    require_shape(pa.back(), pn.c_str(), {-1, 2});
    require_shape(ca.back(), cn.c_str(), {pa.back().shape(0), 2, 2});
    views.push_back({pa.back().data(), ca.back().data(), static_cast<std::size_t>(pa.back().shape(0))});
  }
  FusionParams params;
  params.gate_probability = gate_probability;
  params.model_error_std = model_error_std;
  params.merge_radius_m = merge_radius_m;
  params.check();
  FusedObservations f;
  {
    // Safe: `views` points into arrays held in pa/ca for this whole frame; no Python touched.
    py::gil_scoped_release release;
    f = fuse_views(views, params, priors);
  }
  const auto k = static_cast<py::ssize_t>(f.points.size() / 2);
  const auto c = static_cast<py::ssize_t>(points.size());
  return py::make_tuple(to_numpy(f.points, {k, 2}), to_numpy(f.covs, {k, 2, 2}), to_numpy(f.members, {k, c}));
}

}  // namespace

void bind_track(py::module_& m) {
  m.def("track_linear_assignment", &linear_assignment_py, py::arg("cost"), py::arg("cost_limit") = py::none(),
        "Minimum-cost rectangular assignment (Jonker-Volgenant) of a (rows, cols) cost matrix.\n\n"
        "Returns int64 (rows, cols), rows ascending, like scipy.optimize.linear_sum_assignment.\n"
        "+inf forbids a pair. Without cost_limit every row (or column, if fewer) is matched and an\n"
        "impossible problem raises ValueError. With cost_limit, pairs above it are never matched\n"
        "and leaving a row and a column unmatched is worth exactly cost_limit (lap.lapjv's rule).");
  m.def("track_chi2_quantile", &chi2_quantile, py::arg("probability"), py::arg("dof"),
        "Chi-square quantile: the Mahalanobis gate for a measurement of `dof` dimensions.");
  m.def("track_box_kalman_predict", &box_predict_py, py::arg("means"), py::arg("covariances"), py::arg("dt"),
        py::arg("position_noise") = BoxNoise{}.position_per_sqrt_s,
        py::arg("velocity_noise") = BoxNoise{}.velocity_per_sqrt_s,
        "Predict (N, 8) box states and (N, 8, 8) covariances in place over dt seconds.");
  m.def("track_box_kalman_update", &box_update_py, py::arg("means"), py::arg("covariances"),
        py::arg("measurements"), py::arg("measurement_noise") = BoxNoise{}.measurement,
        "Update (N, 8) box states in place with (N, 4) cxcywh measurements.");
  m.def("track_floor_kalman_predict", &floor_predict_py, py::arg("means"), py::arg("covariances"), py::arg("dt"),
        py::arg("acceleration_std") = FloorNoise{}.acceleration,
        "Predict (N, 4) floor states and (N, 4, 4) covariances in place over dt seconds.");
  m.def("track_floor_kalman_update", &floor_update_py, py::arg("means"), py::arg("covariances"),
        py::arg("points"), py::arg("point_covariances"),
        "Update (N, 4) floor states in place with (N, 2) points and (N, 2, 2) covariances.");
  m.def("track_floor_gating_distance", &floor_gating_py, py::arg("means"), py::arg("covariances"),
        py::arg("points"), py::arg("point_covariances"),
        "(N, K) squared Mahalanobis distances between floor tracks and points.");
  m.def("track_fuse_views", &fuse_views_py, py::arg("points_per_camera"), py::arg("covs_per_camera"),
        py::arg("gate_probability") = FusionParams{}.gate_probability,
        py::arg("model_error_std") = FusionParams{}.model_error_std,
        py::arg("merge_radius_m") = FusionParams{}.merge_radius_m,
        py::arg("prior_points") = py::none(), py::arg("prior_covariances") = py::none(),
        "Fuse per-camera floor points into one per person: (points, covs, members).");

  bind_box_tracker_params(m);
  py::class_<BoxTracker>(m, "TrackBoxTracker")
      .def(py::init([](const BoxTrackerParams& p) { return std::make_unique<BoxTracker>(p); }),
           py::arg("params"))
      .def_property_readonly("params", &BoxTracker::params)
      .def("update",
           [](BoxTracker& self, const carray<float>& boxes, const carray<float>& scores,
              std::optional<double> t) {
             check_box_inputs(boxes, scores);
             const float* b = boxes.data();
             const float* s = scores.data();
             const auto n = static_cast<std::size_t>(boxes.shape(0));
             {
               // Safe: inputs are plain float arrays held by this frame; the tracker is C++ state
               // (pybind11 keeps `self` alive for the call).
               py::gil_scoped_release release;
               self.update(b, s, n, t.has_value(), t.value_or(0.0));
             }
             return box_tracks_py(self.tracks());
           },
           py::arg("boxes_xyxy"), py::arg("scores"), py::arg("t") = py::none())
      .def("reset", &BoxTracker::reset)
      .def("__len__", &BoxTracker::size);

  py::class_<FloorTracker>(m, "TrackFloorTracker")
      .def(py::init([](double fps, double high_score, double low_score, double new_track_score,
                       double gate_probability, double low_gate_probability, int min_hits,
                       double lost_buffer_s, double lost_velocity_decay_s, double lost_stand_speed,
                       double lost_max_std_m,
                       double birth_gate_probability, double model_error_std,
                       double acceleration_std, double measurement_std,
                       double initial_velocity_std) {
             FloorTrackerParams p;
             p.lost_velocity_decay_s = lost_velocity_decay_s; p.lost_max_std_m = lost_max_std_m;
             p.lost_stand_speed = lost_stand_speed;
             p.birth_gate_probability = birth_gate_probability;
             p.model_error_std = model_error_std;
             p.fps = fps; p.high_score = high_score; p.low_score = low_score;
             p.new_track_score = new_track_score; p.gate_probability = gate_probability;
             p.low_gate_probability = low_gate_probability; p.min_hits = min_hits;
             p.lost_buffer_s = lost_buffer_s; p.noise.acceleration = acceleration_std;
             p.noise.measurement = measurement_std; p.noise.initial_velocity = initial_velocity_std;
             return std::make_unique<FloorTracker>(p);
           }),
           py::kw_only(), py::arg("fps"), py::arg("high_score"), py::arg("low_score"),
           py::arg("new_track_score"), py::arg("gate_probability"), py::arg("low_gate_probability"),
           py::arg("min_hits"), py::arg("lost_buffer_s"), py::arg("lost_velocity_decay_s"),
           py::arg("lost_stand_speed"), py::arg("lost_max_std_m"), py::arg("birth_gate_probability"),
           py::arg("model_error_std"), py::arg("acceleration_std"),
           py::arg("measurement_std"), py::arg("initial_velocity_std"))
      .def("update",
           [](FloorTracker& self, const carray<double>& points, std::optional<carray<double>> covs,
              std::optional<carray<float>> scores, std::optional<double> t) {
             require_shape(points, "points_xy", {-1, 2});
             const auto n = points.shape(0);
             if (covs) require_shape(*covs, "covariances", {n, 2, 2});
             if (scores) require_shape(*scores, "scores", {n});
             const double* p = points.data();
             const double* c = covs ? covs->data() : nullptr;
             const float* s = scores ? scores->data() : nullptr;
             {
               // Safe: inputs are plain arrays held by this frame; the tracker is C++ state.
               py::gil_scoped_release release;
               self.update(p, c, s, static_cast<std::size_t>(n), t.has_value(), t.value_or(0.0));
             }
             return floor_tracks_py(self.tracks());
           },
           py::arg("points_xy"), py::arg("covariances") = py::none(), py::arg("scores") = py::none(),
           py::arg("t") = py::none())
      .def("predicted",
           [](const FloorTracker& self, std::optional<double> t) {
             FloorTracks ahead;
             {
               // Safe: reads C++ state only; the GIL guards no Python object here.
               py::gil_scoped_release release;
               ahead = self.predicted(t.has_value(), t.value_or(0.0));
             }
             return floor_tracks_py(ahead);
           },
           py::arg("t") = py::none())
      .def("reset", &FloorTracker::reset);
}

}  // namespace walkout::bindings
