// Python bindings of the geometry room (cpp/src/geometry/). Registered by module.cpp into walkout._core.
#include <pybind11/pybind11.h>

#include "ndarray.hpp"

namespace py = pybind11;

namespace walkout::bindings {

void bind_geometry(py::module_& m) {
  (void)m;  // The geometry room registers its functions here as it lands.
}

}  // namespace walkout::bindings
