// Python bindings of the track room (cpp/src/track/). Registered by module.cpp into walkout._core.
#include <pybind11/pybind11.h>

#include "ndarray.hpp"

namespace py = pybind11;

namespace walkout::bindings {

void bind_track(py::module_& m) {
  (void)m;  // The track room registers its functions here as it lands.
}

}  // namespace walkout::bindings
