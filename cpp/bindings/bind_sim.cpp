// Python bindings of the simulator's rasteriser (cpp/src/sim/). Registered by module.cpp into
// walkout._core. Names start with sim_ so they never clash with other rooms' in the flat module.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <stdexcept>
#include <string>

#include "ndarray.hpp"
#include "walkout/sim/raster.hpp"

namespace py = pybind11;

namespace walkout::bindings {

namespace {

py::array_t<std::uint8_t> checked_image(const py::array& image) {
  require_exact<std::uint8_t>(image, "image");
  if (image.ndim() != 3 || image.shape(2) != 3) {
    throw std::invalid_argument("image: expected shape (H, W, 3) uint8, got " + actual_shape(image));
  }
  if (!image.writeable()) throw std::invalid_argument("image: expected a writeable array");
  return py::reinterpret_borrow<py::array_t<std::uint8_t>>(image);
}

void sim_draw_capsules(const py::array& image, const py::array& depth, const py::object& labels,
                       const py::array& capsules, const py::array& colours, const py::array& ids) {
  auto img = checked_image(image);
  const py::ssize_t h = img.shape(0), w = img.shape(1);
  require_exact<float>(depth, "depth");
  require_shape(depth, "depth", {h, w});
  if (!depth.writeable()) throw std::invalid_argument("depth: expected a writeable array");
  std::int32_t* lab = nullptr;
  py::array lab_arr;
  if (!labels.is_none()) {
    lab_arr = py::reinterpret_borrow<py::array>(labels);
    require_exact<std::int32_t>(lab_arr, "labels");
    require_shape(lab_arr, "labels", {h, w});
    if (!lab_arr.writeable()) throw std::invalid_argument("labels: expected a writeable array");
    lab = static_cast<std::int32_t*>(lab_arr.mutable_data());
  }
  carray<double> caps(capsules);
  require_shape(caps, "capsules", {-1, static_cast<py::ssize_t>(sim::kCapsuleCols)});
  const py::ssize_t n = caps.shape(0);
  carray<std::uint8_t> cols(colours);
  require_shape(cols, "colours", {n, 3});
  carray<std::int32_t> idv(ids);
  require_shape(idv, "ids", {n});
  auto* img_p = static_cast<std::uint8_t*>(img.mutable_data());
  auto* depth_p = static_cast<float*>(const_cast<void*>(depth.data()));
  const double* caps_p = caps.data();
  const std::uint8_t* cols_p = cols.data();
  const std::int32_t* ids_p = idv.data();
  // Safe without the GIL: every pointer is into an array this frame holds a reference to, and
  // the loop touches no Python object.
  py::gil_scoped_release release;
  sim::draw_capsules(img_p, depth_p, lab, static_cast<int>(h), static_cast<int>(w), caps_p, cols_p,
                     ids_p, static_cast<std::size_t>(n));
}

py::array_t<std::int32_t> sim_label_boxes(const py::array& labels, py::ssize_t n) {
  require_exact<std::int32_t>(labels, "labels");
  if (labels.ndim() != 2) {
    throw std::invalid_argument("labels: expected shape (H, W) int32, got " + actual_shape(labels));
  }
  if (n < 0) throw std::invalid_argument("n: expected a count >= 0, got " + std::to_string(n));
  py::array_t<std::int32_t> out({n, static_cast<py::ssize_t>(5)});
  const auto* lab = static_cast<const std::int32_t*>(labels.data());
  auto* out_p = out.mutable_data();
  const int h = static_cast<int>(labels.shape(0)), w = static_cast<int>(labels.shape(1));
  // Safe without the GIL: plain pointers into arrays held by this frame.
  py::gil_scoped_release release;
  sim::label_boxes(lab, h, w, static_cast<std::size_t>(n), out_p);
  return out;
}

py::array_t<std::int64_t> sim_silhouette_areas(py::ssize_t height, py::ssize_t width,
                                                const py::array& capsules, const py::array& ids,
                                                py::ssize_t n_ids) {
  if (height <= 0 || width <= 0) {
    throw std::invalid_argument("height, width: expected a positive image size, got " +
                                std::to_string(height) + "x" + std::to_string(width));
  }
  if (n_ids < 0) throw std::invalid_argument("n_ids: expected a count >= 0, got " + std::to_string(n_ids));
  carray<double> caps(capsules);
  require_shape(caps, "capsules", {-1, static_cast<py::ssize_t>(sim::kCapsuleCols)});
  const py::ssize_t n = caps.shape(0);
  carray<std::int32_t> idv(ids);
  require_shape(idv, "ids", {n});
  py::array_t<std::int64_t> out(n_ids);
  const double* caps_p = caps.data();
  const std::int32_t* ids_p = idv.data();
  auto* out_p = out.mutable_data();
  // Safe without the GIL: plain pointers into arrays held by this frame.
  py::gil_scoped_release release;
  sim::silhouette_areas(static_cast<int>(height), static_cast<int>(width), caps_p, ids_p,
                        static_cast<std::size_t>(n), static_cast<std::size_t>(n_ids), out_p);
  return out;
}

}  // namespace

void bind_sim(py::module_& m) {
  m.def("sim_draw_capsules", &sim_draw_capsules, py::arg("image"), py::arg("depth"),
        py::arg("labels"), py::arg("capsules"), py::arg("colours"), py::arg("ids"),
        "Draw projected capsules (N, 10) = u0 v0 z0 rpx0 rw0 u1 v1 z1 rpx1 rw1 with colours "
        "(N, 3) uint8 and ids (N,) int32 into image (H, W, 3) uint8, depth (H, W) float32 and "
        "labels (H, W) int32 or None, in place, with a per-pixel depth test.");
  m.def("sim_label_boxes", &sim_label_boxes, py::arg("labels"), py::arg("n"),
        "Per label 0..n-1 of an (H, W) int32 label image: (n, 5) int32 rows x_min, y_min, "
        "x_max, y_max (inclusive), pixel count; (-1, -1, -1, -1, 0) where unseen.");
  m.def("sim_silhouette_areas", &sim_silhouette_areas, py::arg("height"), py::arg("width"),
        py::arg("capsules"), py::arg("ids"), py::arg("n_ids"),
        "Per id 0..n_ids-1: (n_ids,) int64 image pixels inside the union of its capsules (N, 10), "
        "as if nothing else were in the scene.");
}

}  // namespace walkout::bindings
