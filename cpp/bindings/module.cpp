// walkout._core: registers each room's bindings and nothing else. Each room's bindings live
// in bind_<room>.cpp; the algorithms themselves live in cpp/src/<room>/.
#include <pybind11/pybind11.h>

namespace py = pybind11;

namespace walkout::bindings {
void bind_detect(py::module_& m);
void bind_track(py::module_& m);
void bind_geometry(py::module_& m);
void bind_sync(py::module_& m);
void bind_interact(py::module_& m);
void bind_sim(py::module_& m);
}  // namespace walkout::bindings

PYBIND11_MODULE(_core, m) {
  m.doc() = "walkout's compiled core. Use the typed Python faces (walkout.detect, walkout.track, ...).";
  m.attr("__version__") = WALKOUT_VERSION;

  py::dict info;
  info["version"] = WALKOUT_VERSION;
  info["compiler"] = WALKOUT_COMPILER;
  info["build_type"] = WALKOUT_BUILD_TYPE;
#if defined(__AVX2__)
  info["simd_baseline"] = "avx2";
#elif defined(__SSE4_2__)
  info["simd_baseline"] = "sse4.2";
#elif defined(__SSE2__)
  info["simd_baseline"] = "sse2";
#else
  info["simd_baseline"] = "none";
#endif
  m.attr("build_info") = info;

  // One flat namespace (typed by python/walkout/_core.pyi); each room adds its names.
  using namespace walkout::bindings;
  bind_detect(m);
  bind_track(m);
  bind_geometry(m);
  bind_sync(m);
  bind_interact(m);
  bind_sim(m);
}
