// Python bindings of the detect room (cpp/src/detect/). Registered by module.cpp into walkout._core.
// Every name starts with detect_ because _core is one flat namespace shared by all rooms. The
// typed, documented face is python/walkout/detect.py; stubs in python/walkout/_core.pyi.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "ndarray.hpp"
#include "walkout/common/parallel.hpp"
#include "walkout/detect/box_ops.hpp"
#include "walkout/detect/decode.hpp"
#include "walkout/detect/letterbox.hpp"
#include "walkout/detect/nms.hpp"

namespace py = pybind11;

namespace walkout::bindings {

namespace {

using detect::LetterboxTransform;

// An (N, 4) float32 box array, C-contiguous, taken as is (no conversion, no copy).
py::array_t<float> box_array(const py::array& a, const char* name) {
  require_exact<float>(a, name);
  require_shape(a, name, {-1, 4});
  return py::array_t<float>::ensure(a);
}

py::array_t<float> boxes_from_vector(const std::vector<float>& v) {
  py::array_t<float> out({static_cast<py::ssize_t>(v.size() / 4), py::ssize_t{4}});
  std::copy(v.begin(), v.end(), out.mutable_data());
  return out;
}

py::array_t<std::int64_t> nms_binding(const py::array& boxes, const py::array& scores,
                                      float iou_threshold, const std::optional<py::array>& classes,
                                      std::size_t max_det, float score_threshold) {
  auto b = box_array(boxes, "boxes");
  require_exact<float>(scores, "scores");
  require_shape(scores, "scores", {b.shape(0)});
  std::optional<py::array_t<std::int64_t>> c;
  if (classes) {
    require_exact<std::int64_t>(*classes, "classes");
    require_shape(*classes, "classes", {b.shape(0)});
    c = py::array_t<std::int64_t>::ensure(*classes);
  }
  detect::NmsOptions options;
  options.iou_threshold = iou_threshold;
  options.score_threshold = score_threshold;
  options.max_det = max_det;
  options.check();
  const float* bp = b.data();
  const float* sp = static_cast<const float*>(scores.data());
  const std::int64_t* cp = c ? c->data() : nullptr;
  const auto n = static_cast<std::size_t>(b.shape(0));
  std::vector<std::int64_t> keep;
  {
    // Safe: bp/sp/cp point into arrays this frame holds references to; no Python object is
    // touched until the GIL is back.
    py::gil_scoped_release release;
    keep = detect::nms(bp, sp, cp, n, options);
  }
  py::array_t<std::int64_t> out(static_cast<py::ssize_t>(keep.size()));
  std::copy(keep.begin(), keep.end(), out.mutable_data());
  return out;
}

// Frames: a list of uint8 arrays (H, W, 3) whose pixels are contiguous within a row (row
// stride free, so crops of a bigger frame pass without a copy).
std::vector<detect::FrameView> frame_views(const py::list& frames, std::vector<py::array>& hold) {
  std::vector<detect::FrameView> views;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const std::string name = "frames[" + std::to_string(i) + "]";
    py::object item = frames[i];
    if (!py::isinstance<py::array>(item)) {
      throw std::invalid_argument(name + ": expected a numpy uint8 array of shape (H, W, 3)");
    }
    py::array a = py::reinterpret_borrow<py::array>(item);
    if (!py::isinstance<py::array_t<std::uint8_t>>(a)) {
      throw std::invalid_argument(name + ": expected dtype uint8, got " +
                                  py::str(a.dtype()).cast<std::string>());
    }
    require_shape(a, name.c_str(), {-1, -1, 3});
    if (a.strides(2) != 1 || a.strides(1) != 3 || a.strides(0) < 3 * a.shape(1)) {
      throw std::invalid_argument(name + ": expected rows of contiguous BGR pixels (strides (row, 3, 1))");
    }
    if (a.shape(0) == 0 || a.shape(1) == 0) throw std::invalid_argument(name + ": frame has no pixels");
    views.push_back({static_cast<const std::uint8_t*>(a.data()), static_cast<int>(a.shape(1)),
                     static_cast<int>(a.shape(0)), a.strides(0)});
    hold.push_back(a);
  }
  return views;
}

py::array_t<double> letterbox_binding(const py::list& frames, int width, int height,
                                      const std::string& convention, const py::array& out,
                                      std::size_t threads) {
  const auto conv = detect::parse_letterbox_convention(convention);
  if (width <= 0 || height <= 0) throw std::invalid_argument("size: expected positive sides");
  std::vector<py::array> hold;
  const auto views = frame_views(frames, hold);
  require_exact<float>(out, "out");
  require_shape(out, "out", {static_cast<py::ssize_t>(views.size()), 3, height, width});
  if (!out.writeable()) throw std::invalid_argument("out: expected a writeable array");
  py::array_t<double> transforms({static_cast<py::ssize_t>(views.size()),
                                  py::ssize_t{detect::kTransformFields}});
  std::vector<LetterboxTransform> t(views.size());
  float* dst = static_cast<float*>(py::array(out).mutable_data());
  {
    // Safe: the frames (held in `hold`) and `out` stay alive and are only read/written through
    // the plain pointers taken above.
    py::gil_scoped_release release;
    detect::letterbox(views, width, height, conv, dst, t.data(), threads);
  }
  double* tp = transforms.mutable_data();
  for (std::size_t i = 0; i < t.size(); ++i) {
    const double fields[] = {t[i].scale_x, t[i].scale_y, t[i].pad_x, t[i].pad_y, t[i].src_w, t[i].src_h};
    std::copy(fields, fields + detect::kTransformFields, tp + i * detect::kTransformFields);
  }
  return transforms;
}

py::tuple geometry_binding(int src_w, int src_h, int dst_w, int dst_h, const std::string& convention) {
  const auto g = detect::letterbox_geometry(src_w, src_h, dst_w, dst_h,
                                            detect::parse_letterbox_convention(convention));
  return py::make_tuple(g.resized_w, g.resized_h, g.pad_x, g.pad_y);
}

py::list decode_binding(const py::array& output, const std::string& layout, const py::array& transforms,
                        int model_w, int model_h, float conf_threshold, float iou_threshold,
                        const std::optional<py::array>& classes, std::size_t max_det, bool agnostic,
                        int num_keypoints, std::size_t threads) {
  const auto lay = detect::parse_output_layout(layout);
  require_exact<float>(output, "output");
  require_shape(output, "output", {-1, -1, -1});
  const auto batch = output.shape(0);
  require_exact<double>(transforms, "transforms");
  require_shape(transforms, "transforms", {batch, detect::kTransformFields});
  detect::DecodeOptions o;
  o.conf_threshold = conf_threshold;
  o.iou_threshold = iou_threshold;
  o.max_det = max_det;
  o.agnostic = agnostic;
  o.num_keypoints = num_keypoints;
  if (classes) {
    require_exact<std::int64_t>(*classes, "classes");
    require_shape(*classes, "classes", {-1});
    auto c = py::array_t<std::int64_t>::ensure(*classes);
    o.filter_classes = true;
    o.classes.assign(c.data(), c.data() + c.shape(0));
  }
  o.check();
  const auto d0 = static_cast<std::size_t>(output.shape(1));
  const auto d1 = static_cast<std::size_t>(output.shape(2));
  detect::check_output_shape(lay, d0, d1, model_w, model_h, o);
  std::vector<LetterboxTransform> t(static_cast<std::size_t>(batch));
  const double* tp = static_cast<const double*>(transforms.data());
  for (std::size_t i = 0; i < t.size(); ++i) {
    const double* f = tp + i * detect::kTransformFields;
    t[i] = {f[0], f[1], f[2], f[3], f[4], f[5]};
    if (!(t[i].scale_x > 0.0) || !(t[i].scale_y > 0.0)) {
      throw std::invalid_argument("transforms: scale_x and scale_y must be > 0 (row " +
                                  std::to_string(i) + ")");
    }
  }
  const float* data = static_cast<const float*>(output.data());
  std::vector<detect::Detections> results(t.size());
  {
    // Safe: `data` points into `output`, which the caller holds; results are plain vectors.
    py::gil_scoped_release release;
    parallel_for(
        results.size(),
        [&](std::size_t begin, std::size_t end) {
          for (std::size_t i = begin; i < end; ++i) {
            results[i] = detect::decode_image(data + i * d0 * d1, d0, d1, lay, t[i], model_w,
                                              model_h, o);
          }
        },
        threads, 1);
  }
  py::list out;
  for (const auto& d : results) {
    const auto m = static_cast<py::ssize_t>(d.size());
    py::array_t<float> scores(m);
    std::copy(d.scores.begin(), d.scores.end(), scores.mutable_data());
    py::array_t<std::int64_t> ids(m);
    std::copy(d.class_ids.begin(), d.class_ids.end(), ids.mutable_data());
    py::object kps = py::none();
    if (d.num_keypoints > 0) {
      py::array_t<float> k({m, static_cast<py::ssize_t>(d.num_keypoints), py::ssize_t{3}});
      std::copy(d.keypoints.begin(), d.keypoints.end(), k.mutable_data());
      kps = k;
    }
    out.append(py::make_tuple(boxes_from_vector(d.boxes), scores, ids, kps));
  }
  return out;
}

py::array_t<float> iou_binding(const py::array& a, const py::array& b) {
  auto aa = box_array(a, "a");
  auto bb = box_array(b, "b");
  const auto n = aa.shape(0), m = bb.shape(0);
  py::array_t<float> out({n, m});
  const float* ap = aa.data();
  const float* bp = bb.data();
  float* op = out.mutable_data();
  {
    // Safe: plain pointers into arrays held by this frame.
    py::gil_scoped_release release;
    detect::box_iou_matrix(ap, static_cast<std::size_t>(n), bp, static_cast<std::size_t>(m), op);
  }
  return out;
}

template <void (*Convert)(const float*, std::size_t, float*)>
py::array_t<float> convert_binding(const py::array& boxes) {
  auto b = box_array(boxes, "boxes");
  py::array_t<float> out({b.shape(0), py::ssize_t{4}});
  const float* in = b.data();
  float* dst = out.mutable_data();
  const auto n = static_cast<std::size_t>(b.shape(0));
  {
    // Safe: plain pointers into arrays held by this frame.
    py::gil_scoped_release release;
    Convert(in, n, dst);
  }
  return out;
}

}  // namespace

void bind_detect(py::module_& m) {
  m.def("detect_nms", &nms_binding, py::arg("boxes"), py::arg("scores"), py::arg("iou_threshold"),
        py::arg("classes") = py::none(), py::arg("max_det") = 0,
        py::arg("score_threshold") = -std::numeric_limits<float>::infinity(),
        "Greedy NMS; kept indices by descending score (see walkout.detect.nms).");
  m.def("detect_letterbox", &letterbox_binding, py::arg("frames"), py::arg("width"),
        py::arg("height"), py::arg("convention"), py::arg("out"), py::arg("threads") = 0,
        "Letterbox uint8 BGR frames into out (B, 3, height, width); returns (B, 6) transforms.");
  m.def("detect_letterbox_kernel_isa", &detect::letterbox_kernel_isa,
        "Which letterbox row kernels run: \"avx2\" or \"portable\".");
  m.def("detect_letterbox_geometry", &geometry_binding, py::arg("src_w"), py::arg("src_h"),
        py::arg("dst_w"), py::arg("dst_h"), py::arg("convention"),
        "(resized_w, resized_h, pad_x, pad_y) of a frame under a letterbox convention.");
  m.def("detect_decode", &decode_binding, py::arg("output"), py::arg("layout"),
        py::arg("transforms"), py::arg("model_w"), py::arg("model_h"),
        py::arg("conf_threshold") = 0.25f, py::arg("iou_threshold") = 0.45f,
        py::arg("classes") = py::none(), py::arg("max_det") = 300, py::arg("agnostic") = false,
        py::arg("num_keypoints") = 17, py::arg("threads") = 0,
        "Decode a model output into per-image (boxes, scores, class_ids, keypoints|None).");
  m.def("detect_box_iou", &iou_binding, py::arg("a"), py::arg("b"), "IoU matrix (N, M) of xyxy boxes.");
  m.def("detect_xyxy_to_cxcywh", &convert_binding<detect::xyxy_to_cxcywh>, py::arg("boxes"));
  m.def("detect_cxcywh_to_xyxy", &convert_binding<detect::cxcywh_to_xyxy>, py::arg("boxes"));
}

}  // namespace walkout::bindings
