// Python bindings of the detect room (cpp/src/detect/). Registered by module.cpp into walkout._core.
#include <pybind11/pybind11.h>

#include "ndarray.hpp"

namespace py = pybind11;

namespace walkout::bindings {

void bind_detect(py::module_& m) {
  (void)m;  // The detect room registers its functions here as it lands.
}

}  // namespace walkout::bindings
