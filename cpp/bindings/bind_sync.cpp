// Python bindings of the sync room (cpp/src/sync/). Registered by module.cpp into walkout._core.
#include <pybind11/pybind11.h>

#include "ndarray.hpp"

namespace py = pybind11;

namespace walkout::bindings {

void bind_sync(py::module_& m) {
  (void)m;  // The sync room registers its functions here as it lands.
}

}  // namespace walkout::bindings
