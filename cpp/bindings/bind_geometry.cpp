// Python bindings of the geometry room (cpp/src/geometry/). Registered by module.cpp into walkout._core.
//
// Names in the flat _core namespace: PinholeCamera, triangulate_views,
// intersect_rays_oriented_box. The typed face is python/walkout/geometry.py.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "ndarray.hpp"
#include "walkout/geometry/camera_model.hpp"
#include "walkout/geometry/projection.hpp"
#include "walkout/geometry/ray_box.hpp"
#include "walkout/geometry/triangulation.hpp"

namespace py = pybind11;

namespace walkout::bindings {

namespace {

using geometry::CameraModel;

// (N, 2) float64 pixels in, a fresh (N, cols...) float64 array out.
py::array_t<double> new_array(std::initializer_list<py::ssize_t> shape) {
  return py::array_t<double>(std::vector<py::ssize_t>(shape));
}

carray<double> pixels_arg(const py::object& obj, const char* name) {
  carray<double> a = carray<double>::ensure(obj);
  if (!a) throw std::invalid_argument(std::string(name) + ": expected a float array of shape (N, 2)");
  require_shape(a, name, {-1, 2});
  return a;
}

// Thread count from Python: 0 = one per core; a negative count is a caller's mistake.
std::size_t threads_arg(int threads) {
  if (threads < 0) throw std::invalid_argument("threads: expected 0 (one per core) or a positive count");
  return static_cast<std::size_t>(threads);
}

// The shape every per-pixel mapping shares: (N, 2) pixels in, (N, out_width) doubles out,
// computed by `map(camera, in, n, out, threads)` without the GIL.
template <typename Map>
py::array_t<double> map_pixels(const CameraModel& c, const py::object& px_obj, int threads,
                               py::ssize_t out_width, Map map) {
  auto px = pixels_arg(px_obj, "pixels");
  const auto n = px.shape(0);
  auto out = new_array({n, out_width});
  const double* in = px.data();
  double* o = out.mutable_data();
  const std::size_t nthreads = threads_arg(threads);
  // Safe without the GIL: plain pointers into arrays held by this frame.
  py::gil_scoped_release release;
  map(c, in, static_cast<std::size_t>(n), o, nthreads);
  return out;
}

CameraModel camera_from_numpy(const py::object& K_obj, const py::object& dist_obj,
                              const py::object& R_obj, const py::object& t_obj) {
  auto K = carray<double>::ensure(K_obj);
  auto dist = carray<double>::ensure(dist_obj);
  auto R = carray<double>::ensure(R_obj);
  auto t = carray<double>::ensure(t_obj);
  if (!K || !dist || !R || !t) throw std::invalid_argument("K, dist, R, t: expected float arrays");
  require_shape(K, "K", {3, 3});
  require_shape(dist, "dist", {-1});
  require_shape(R, "R", {3, 3});
  require_shape(t, "t", {3});
  return CameraModel::from_arrays(K.data(), dist.data(), static_cast<std::size_t>(dist.shape(0)),
                                  R.data(), t.data());
}

py::array_t<double> K_of(const CameraModel& c) {
  auto K = new_array({3, 3});
  double* k = K.mutable_data();
  const double v[9] = {c.fx, c.skew, c.cx, 0.0, c.fy, c.cy, 0.0, 0.0, 1.0};
  for (int i = 0; i < 9; ++i) k[i] = v[i];
  return K;
}

}  // namespace

void bind_geometry(py::module_& m) {
  py::class_<CameraModel>(m, "PinholeCamera", R"doc(
One calibrated camera: OpenCV pinhole model (K, distortion in OpenCV's order) and its pose
camera_from_store (x_cam = R · X_store + t, metres). Batched methods take float64 arrays and
return NaN rows for points with no answer (behind the camera, ray parallel to the plane).
)doc")
      .def(py::init(&camera_from_numpy), py::arg("K"), py::arg("dist"), py::arg("R"), py::arg("t"))
      .def_property_readonly("K", &K_of)
      .def_property_readonly("dist", [](const CameraModel& c) {
        auto d = new_array({12});
        for (int i = 0; i < 12; ++i) d.mutable_data()[i] = c.dist[static_cast<std::size_t>(i)];
        return d;
      })
      .def_property_readonly("R", [](const CameraModel& c) {
        auto R = new_array({3, 3});
        for (int i = 0; i < 9; ++i) R.mutable_data()[i] = c.R[static_cast<std::size_t>(i)];
        return R;
      })
      .def_property_readonly("t", [](const CameraModel& c) {
        auto t = new_array({3});
        for (int i = 0; i < 3; ++i) t.mutable_data()[i] = c.t[static_cast<std::size_t>(i)];
        return t;
      })
      .def_property_readonly("centre_in_store", [](const CameraModel& c) {
        auto C = c.centre_in_store();
        auto out = new_array({3});
        for (int i = 0; i < 3; ++i) out.mutable_data()[i] = C[static_cast<std::size_t>(i)];
        return out;
      })
      .def("image_from_store", [](const CameraModel& c, const py::object& pts_obj, int threads) {
        auto pts = carray<double>::ensure(pts_obj);
        if (!pts) throw std::invalid_argument("points: expected a float array of shape (N, 3)");
        require_shape(pts, "points", {-1, 3});
        const auto n = pts.shape(0);
        auto out = new_array({n, 2});
        const double* in = pts.data();
        double* o = out.mutable_data();
        const std::size_t nthreads = threads_arg(threads);
        // Safe without the GIL: `in` and `o` point into arrays this frame holds references to.
        py::gil_scoped_release release;
        geometry::image_from_store(c, in, static_cast<std::size_t>(n), o, nthreads);
        return out;
      }, py::arg("points"), py::arg("threads") = 0)
      .def("undistort_pixels", [](const CameraModel& c, const py::object& px_obj, int threads) {
        return map_pixels(c, px_obj, threads, 2, geometry::undistort_pixels);
      }, py::arg("pixels"), py::arg("threads") = 0)
      .def("rays_from_image", [](const CameraModel& c, const py::object& px_obj, int threads) {
        return map_pixels(c, px_obj, threads, 3, geometry::rays_from_image);
      }, py::arg("pixels"), py::arg("threads") = 0)
      .def("floor_from_image", [](const CameraModel& c, const py::object& px_obj, int threads) {
        return map_pixels(c, px_obj, threads, 2, geometry::floor_from_image);
      }, py::arg("pixels"), py::arg("threads") = 0)
      .def("plane_from_image", [](const CameraModel& c, const py::object& px_obj,
                                  const py::object& normal_obj, double offset, int threads) {
        auto px = pixels_arg(px_obj, "pixels");
        auto normal = carray<double>::ensure(normal_obj);
        if (!normal) throw std::invalid_argument("normal: expected a float array of shape (3,)");
        require_shape(normal, "normal", {3});
        const double* nv = normal.data();
        if (!(std::isfinite(nv[0]) && std::isfinite(nv[1]) && std::isfinite(nv[2])) ||
            nv[0] * nv[0] + nv[1] * nv[1] + nv[2] * nv[2] == 0.0)
          throw std::invalid_argument("normal: expected a finite non-zero vector of shape (3,)");
        if (!std::isfinite(offset)) throw std::invalid_argument("offset: expected a finite number");
        const double nn[3] = {nv[0], nv[1], nv[2]};
        const auto n = px.shape(0);
        auto out = new_array({n, 3});
        const double* in = px.data();
        double* o = out.mutable_data();
        const std::size_t nthreads = threads_arg(threads);
        // Safe without the GIL: plain pointers into arrays held by this frame.
        py::gil_scoped_release release;
        geometry::plane_from_image(c, in, static_cast<std::size_t>(n), nn, offset, o, nthreads);
        return out;
      }, py::arg("pixels"), py::arg("normal"), py::arg("offset"), py::arg("threads") = 0)
      .def("floor_covariance", [](const CameraModel& c, const py::object& px_obj, double sigma,
                                  int threads) {
        auto px = pixels_arg(px_obj, "pixels");
        if (!(sigma >= 0.0) || !std::isfinite(sigma))
          throw std::invalid_argument("pixel_sigma: expected a finite number >= 0 (pixels)");
        const auto n = px.shape(0);
        auto out = new_array({n, 2, 2});
        const double* in = px.data();
        double* o = out.mutable_data();
        const std::size_t nthreads = threads_arg(threads);
        // Safe without the GIL: plain pointers into arrays held by this frame.
        py::gil_scoped_release release;
        geometry::floor_covariance(c, in, static_cast<std::size_t>(n), sigma, o, nthreads);
        return out;
      }, py::arg("pixels"), py::arg("pixel_sigma"), py::arg("threads") = 0)
      .def("floor_homography", [](const CameraModel& c) {
        auto H = new_array({3, 3});
        geometry::floor_homography(c, H.mutable_data());
        return H;
      });

  m.def("triangulate_views", [](const std::vector<CameraModel>& cameras, const py::object& px_obj,
                                int refine_iterations, double max_residual_px, int threads) {
    auto px = carray<double>::ensure(px_obj);
    if (!px) throw std::invalid_argument("pixels: expected a float array of shape (M, N, 2)");
    if (cameras.empty()) throw std::invalid_argument("cameras: expected at least one camera");
    require_shape(px, "pixels", {static_cast<py::ssize_t>(cameras.size()), -1, 2});
    if (refine_iterations < 0 || refine_iterations > 100)
      throw std::invalid_argument("refine_iterations: expected 0..100");
    if (!(max_residual_px >= 0.0))
      throw std::invalid_argument("max_residual_px: expected a number >= 0 (0 keeps every view)");
    if (cameras.size() > geometry::kMaxViews)
      throw std::invalid_argument("cameras: at most 32 cameras per call");
    const auto n = px.shape(1);
    auto points = new_array({n, 3});
    auto residuals = new_array({n});
    py::array_t<std::uint32_t> views(n);
    geometry::TriangulationOptions options;
    options.refine_iterations = refine_iterations;
    options.max_residual_px = max_residual_px;
    options.threads = threads_arg(threads);
    const double* in = px.data();
    double* p = points.mutable_data();
    double* r = residuals.mutable_data();
    std::uint32_t* v = views.mutable_data();
    {
      // Safe without the GIL: `cameras` is a C++ copy and the pointers are into held arrays.
      py::gil_scoped_release release;
      geometry::triangulate(cameras, in, static_cast<std::size_t>(n), options, p, r, v);
    }
    return py::make_tuple(points, residuals, views);
  }, py::arg("cameras"), py::arg("pixels"), py::arg("refine_iterations") = 5,
  py::arg("max_residual_px") = 0.0, py::arg("threads") = 0,
  "Triangulates N points from M <= 32 cameras: pixels (M, N, 2) with NaN for unseen -> points "
  "(N, 3), RMS reprojection residuals (N,) in pixels, views used (N,) uint32 (bit i = camera i).");

  m.def("intersect_rays_oriented_box", [](const py::object& o_obj, const py::object& d_obj,
                                          const py::object& c_obj, const py::object& r_obj,
                                          const py::object& h_obj, int threads) {
    auto o = carray<double>::ensure(o_obj);
    auto d = carray<double>::ensure(d_obj);
    auto c = carray<double>::ensure(c_obj);
    auto R = carray<double>::ensure(r_obj);
    auto h = carray<double>::ensure(h_obj);
    if (!o || !d || !c || !R || !h)
      throw std::invalid_argument("origins, directions, centre, rotation, half_size: expected float arrays");
    require_shape(o, "origins", {-1, 3});
    require_shape(d, "directions", {o.shape(0), 3});
    require_shape(c, "centre", {3});
    require_shape(R, "rotation", {3, 3});
    require_shape(h, "half_size", {3});
    geometry::OrientedBox box{};
    for (int i = 0; i < 3; ++i) {
      box.centre[i] = c.data()[i];
      box.half_size[i] = h.data()[i];
      if (!(box.half_size[i] >= 0.0) || !std::isfinite(box.half_size[i]))
        throw std::invalid_argument("half_size: expected three finite values >= 0 (metres)");
    }
    for (int i = 0; i < 9; ++i) box.rotation[i] = R.data()[i];
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) {
        double s = 0.0;
        for (int k = 0; k < 3; ++k) s += box.rotation[3 * k + i] * box.rotation[3 * k + j];
        if (std::fabs(s - (i == j ? 1.0 : 0.0)) > 1e-6)
          throw std::invalid_argument("rotation: expected an orthonormal (3, 3) matrix");
      }
    const auto n = o.shape(0);
    auto t_in = new_array({n});
    auto t_out = new_array({n});
    py::array_t<int> face(n);
    const double* op = o.data();
    const double* dp = d.data();
    double* a = t_in.mutable_data();
    double* b = t_out.mutable_data();
    int* f = face.mutable_data();
    {
      const std::size_t nthreads = threads_arg(threads);
      // Safe without the GIL: `box` is a C++ copy and the pointers are into held arrays.
      py::gil_scoped_release release;
      geometry::intersect_rays_box(box, op, dp, static_cast<std::size_t>(n), a, b, f, nthreads);
    }
    return py::make_tuple(t_in, t_out, face);
  }, py::arg("origins"), py::arg("directions"), py::arg("centre"), py::arg("rotation"),
  py::arg("half_size"), py::arg("threads") = 0,
  "Rays (origins, directions: (N, 3)) against one oriented box -> t_enter, t_exit (N,) and the "
  "entry face (N,) int32: 0..5 = -x,+x,-y,+y,-z,+z of the box frame, -1 inside or miss.");
}

}  // namespace walkout::bindings
