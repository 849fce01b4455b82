// Python bindings of the sync room (cpp/src/sync/). Registered by module.cpp into walkout._core.
//
// The core deals in opaque frame tokens; this file maps each token to the numpy frame it
// stands for. The map is only touched with the GIL held, so the GIL is its lock, and frames
// are held by reference (a py::object), never copied.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ndarray.hpp"
#include "walkout/sync/frame_sync.hpp"

namespace py = pybind11;

namespace walkout::bindings {

namespace {

using walkout::sync::CameraSyncCounters;
using walkout::sync::FrameSyncOptions;
using walkout::sync::FrameToken;

// What pull()/poll() hand to Python: lists are built once, so reading them costs nothing.
struct PyFrameSet {
  std::int64_t ref_ns = 0;
  py::list frames;   // numpy frame or None per camera
  py::list t_ns;     // capture time (int) or None per camera
  bool complete = false;
  bool waited_out = false;
};

class PyFrameSync {
 public:
  explicit PyFrameSync(const FrameSyncOptions& options) : core_(options) {}

  void push(int camera, std::int64_t t_ns, const py::object& frame,
            std::optional<std::int64_t> arrival_ns) {
    check_frame(frame);
    const FrameToken token = next_token_++;
    std::vector<FrameToken> dropped;
    core_.push(camera, t_ns, token, arrival_ns ? *arrival_ns : sync::FrameSync::steady_now_ns(),
               dropped);
    // The GIL is held from core_.push until here, so no consumer can look the token up
    // before it is in the map.
    frames_.emplace(token, frame);
    forget(dropped);
  }

  std::optional<PyFrameSet> pull(std::optional<double> timeout_s) {
    std::int64_t timeout_ns = -1;
    if (timeout_s) {
      if (!(*timeout_s >= 0.0)) {
        throw std::invalid_argument("timeout_s: expected seconds >= 0 or None, got " +
                                    std::to_string(*timeout_s));
      }
      timeout_ns = static_cast<std::int64_t>(*timeout_s * 1e9);
    }
    std::vector<FrameToken> dropped;
    std::optional<sync::FrameSet> fs;
    {
      // Safe: the core only touches its own C++ state (tokens, times) under its mutex; the
      // frames themselves are looked up below, with the GIL back.
      py::gil_scoped_release release;
      fs = core_.pull(timeout_ns, dropped);
    }
    forget(dropped);
    return to_python(fs);
  }

  std::optional<PyFrameSet> poll(std::optional<std::int64_t> now_ns) {
    std::vector<FrameToken> dropped;
    auto fs = core_.poll(now_ns ? *now_ns : sync::FrameSync::steady_now_ns(), dropped);
    forget(dropped);
    return to_python(fs);
  }

  sync::FrameSync& core() { return core_; }

 private:
  static void check_frame(const py::object& frame) {
    bool ok = py::isinstance<py::array>(frame);
    if (ok) {
      auto a = py::reinterpret_borrow<py::array>(frame);
      ok = a.ndim() == 3 && a.shape(2) == 3 && a.dtype().is(py::dtype::of<std::uint8_t>());
    }
    if (!ok) {
      std::string got = py::isinstance<py::array>(frame)
                            ? "dtype " + py::str(py::reinterpret_borrow<py::array>(frame).dtype())
                                             .cast<std::string>() +
                                  " shape " + actual_shape(py::reinterpret_borrow<py::array>(frame))
                            : py::str(py::type::of(frame)).cast<std::string>();
      throw std::invalid_argument("frame: expected a uint8 numpy array of shape (H, W, 3), got " +
                                  got);
    }
  }

  void forget(const std::vector<FrameToken>& dropped) {
    for (FrameToken t : dropped) frames_.erase(t);
  }

  py::object take(FrameToken token) {
    auto it = frames_.find(token);
    if (it == frames_.end()) throw std::logic_error("FrameSync: frame token lost (bug)");
    py::object frame = std::move(it->second);
    frames_.erase(it);
    return frame;
  }

  std::optional<PyFrameSet> to_python(const std::optional<sync::FrameSet>& fs) {
    if (!fs) return std::nullopt;
    PyFrameSet out;
    out.ref_ns = fs->ref_ns;
    out.complete = fs->complete;
    out.waited_out = fs->waited_out;
    const std::size_t n = fs->present.size();
    out.frames = py::list(n);
    out.t_ns = py::list(n);
    for (std::size_t c = 0; c < n; ++c) {
      if (fs->present[c]) {
        out.frames[c] = take(fs->tokens[c]);
        out.t_ns[c] = py::int_(fs->t_ns[c]);
      } else {
        out.frames[c] = py::none();
        out.t_ns[c] = py::none();
      }
    }
    return out;
  }

  sync::FrameSync core_;
  std::unordered_map<FrameToken, py::object> frames_;
  FrameToken next_token_ = 0;
};

}  // namespace

void bind_sync(py::module_& m) {
  py::class_<CameraSyncCounters>(m, "CameraSyncCounters",
                                 "Per-camera FrameSync counters; received = used + dropped_late "
                                 "+ dropped_overflow + buffered.")
      .def_readonly("received", &CameraSyncCounters::received)
      .def_readonly("used", &CameraSyncCounters::used)
      .def_readonly("dropped_late", &CameraSyncCounters::dropped_late)
      .def_readonly("dropped_overflow", &CameraSyncCounters::dropped_overflow)
      .def_readonly("missing", &CameraSyncCounters::missing)
      .def_readonly("buffered", &CameraSyncCounters::buffered)
      .def_readonly("live", &CameraSyncCounters::live)
      .def("__repr__", [](const CameraSyncCounters& c) {
        return "CameraSyncCounters(received=" + std::to_string(c.received) +
               ", used=" + std::to_string(c.used) +
               ", dropped_late=" + std::to_string(c.dropped_late) +
               ", dropped_overflow=" + std::to_string(c.dropped_overflow) +
               ", missing=" + std::to_string(c.missing) +
               ", buffered=" + std::to_string(c.buffered) +
               ", live=" + (c.live ? "True" : "False") +
               ")";
      });

  py::class_<PyFrameSet>(m, "FrameSet", "Frames of every camera nearest to one reference time.")
      .def_readonly("ref_ns", &PyFrameSet::ref_ns)
      .def_readonly("frames", &PyFrameSet::frames)
      .def_readonly("t_ns", &PyFrameSet::t_ns)
      .def_readonly("complete", &PyFrameSet::complete)
      .def_readonly("waited_out", &PyFrameSet::waited_out)
      .def("__repr__", [](const PyFrameSet& f) {
        return "FrameSet(ref_ns=" + std::to_string(f.ref_ns) +
               ", t_ns=" + py::repr(f.t_ns).cast<std::string>() +
               ", complete=" + (f.complete ? "True" : "False") + ")";
      });

  py::class_<PyFrameSync>(m, "FrameSync",
                          "Pairs frames of unsynchronised cameras by capture time (C++ core).")
      .def(py::init([](int num_cameras, std::int64_t period_ns, std::int64_t tolerance_ns,
                       std::size_t capacity, std::int64_t latency_budget_ns,
                       std::optional<std::int64_t> grid_origin_ns,
                       std::int64_t min_frame_interval_ns) {
             FrameSyncOptions o;
             o.min_frame_interval_ns = min_frame_interval_ns;
             o.has_grid_origin = grid_origin_ns.has_value();
             o.grid_origin_ns = grid_origin_ns.value_or(0);
             o.num_cameras = num_cameras;
             o.period_ns = period_ns;
             o.tolerance_ns = tolerance_ns;
             o.capacity = capacity;
             o.latency_budget_ns = latency_budget_ns;
             return std::make_unique<PyFrameSync>(o);
           }),
           py::arg("num_cameras"), py::arg("period_ns"), py::arg("tolerance_ns"),
           py::arg("capacity"), py::arg("latency_budget_ns"),
           py::arg("grid_origin_ns") = py::none(), py::arg("min_frame_interval_ns") = 0)
      .def("push", &PyFrameSync::push, py::arg("camera"), py::arg("t_ns"), py::arg("frame"),
           py::arg("arrival_ns") = py::none())
      .def("pull", &PyFrameSync::pull, py::arg("timeout_s") = py::none())
      .def("poll", &PyFrameSync::poll, py::arg("now_ns") = py::none())
      .def("wants",
           [](PyFrameSync& s, int camera, std::int64_t t_ns) {
             return s.core().wants(camera, t_ns);
           },
           py::arg("camera"), py::arg("t_ns"))
      .def("set_live",
           [](PyFrameSync& s, int camera, bool live) { s.core().set_live(camera, live); },
           py::arg("camera"), py::arg("live"))
      .def("close", [](PyFrameSync& s) { s.core().close(); })
      .def_property_readonly("closed", [](PyFrameSync& s) { return s.core().closed(); })
      .def("counters", [](PyFrameSync& s) { return s.core().counters(); })
      .def_property_readonly("framesets", [](PyFrameSync& s) { return s.core().framesets(); })
      .def_property_readonly("partial_framesets",
                             [](PyFrameSync& s) { return s.core().partial_framesets(); })
      .def_property_readonly("num_cameras",
                             [](PyFrameSync& s) { return s.core().options().num_cameras; })
      .def_property_readonly("period_ns",
                             [](PyFrameSync& s) { return s.core().options().period_ns; })
      .def_property_readonly("tolerance_ns",
                             [](PyFrameSync& s) { return s.core().options().tolerance_ns; })
      .def_property_readonly("capacity", [](PyFrameSync& s) { return s.core().options().capacity; })
      .def_property_readonly("latency_budget_ns",
                             [](PyFrameSync& s) { return s.core().options().latency_budget_ns; })
      .def_property_readonly("min_frame_interval_ns",
                             [](PyFrameSync& s) {
                               return s.core().options().min_frame_interval_ns;
                             })
      .def_property_readonly("grid_origin_ns",
                             [](PyFrameSync& s) -> std::optional<std::int64_t> {
                               const auto& o = s.core().options();
                               if (!o.has_grid_origin) return std::nullopt;
                               return o.grid_origin_ns;
                             })
      .def_static("now_ns", &sync::FrameSync::steady_now_ns,
                  "The monotonic clock (ns) of default arrival times and of pull().");
}

}  // namespace walkout::bindings
