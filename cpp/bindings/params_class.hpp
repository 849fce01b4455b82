// Binding an options struct once, the pycolmap way: a Python class with one read/write
// attribute per field (its docstring says what raising or lowering it trades), a default
// constructor holding the C++ defaults, keyword construction, check() (ValueError naming the
// field), __repr__, __eq__, to_dict() and pickling. The field list is written once, in the
// .field() calls; everything else walks it, so a field added there is everywhere at once.
//
// Example:
//   ParamsClass<EngineParams>(m, "InteractEngineParams", "...")
//       .field("enter_depth", &EngineParams::enter_depth, "...")
//       .finish();
#pragma once

#include <pybind11/pybind11.h>

#include <string>
#include <vector>

namespace walkout::bindings {

namespace py = pybind11;

template <class P>
class ParamsClass {
 public:
  ParamsClass(py::module_& m, const char* name, const char* doc) : cls_(m, name, doc) {
    names().clear();
    type_name() = name;
  }

  template <class T>
  ParamsClass& field(const char* name, T P::*member, const char* doc) {
    cls_.def_readwrite(name, member, doc);
    names().emplace_back(name);
    return *this;
  }

  void finish() {
    cls_.def(py::init([](const py::kwargs& kw) {
               P p;
               apply(p, kw);
               return p;
             }),
             "The C++ defaults, with any field given by keyword replaced.")
        .def("check", &P::check, "Raise ValueError naming the first field out of range.")
        .def("to_dict", &to_dict, "{field: value} in declaration order.")
        .def("__repr__",
             [](const P& p) {
               std::string out = type_name() + "(";
               const py::dict d = to_dict(p);
               bool first = true;
               for (auto item : d) {
                 out += (first ? "" : ", ") + py::str(item.first).cast<std::string>() + "=" +
                        py::repr(item.second).cast<std::string>();
                 first = false;
               }
               return out + ")";
             })
        .def("__eq__", [](const P& a, const py::object& b) -> py::object {
          if (!py::isinstance<P>(b)) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
          return py::bool_(to_dict(a).equal(to_dict(b.cast<const P&>())));
        })
        .def(py::pickle([](const P& p) { return to_dict(p); },
                        [](const py::dict& d) {
                          P p;
                          apply(p, d);
                          return p;
                        }));
    cls_.attr("__hash__") = py::none();
    py::list fields;
    for (const auto& n : names()) fields.append(n);
    cls_.attr("fields") = py::tuple(fields);
  }

  // Sets the fields named in `kw` on `p`; TypeError for a name that is not a field.
  static void apply(P& p, const py::dict& kw) {
    py::object self = py::cast(&p, py::return_value_policy::reference);
    for (auto item : kw) {
      const auto key = py::str(item.first).cast<std::string>();
      bool known = false;
      for (const auto& n : names()) known = known || n == key;
      if (!known) {
        std::string all;
        for (const auto& n : names()) all += (all.empty() ? "" : ", ") + n;
        throw py::type_error(type_name() + ": unknown parameter '" + key + "' (its fields: " +
                             all + ")");
      }
      self.attr(key.c_str()) = item.second;
    }
  }

  static py::dict to_dict(const P& p) {
    py::object self = py::cast(&p, py::return_value_policy::reference);
    py::dict d;
    for (const auto& n : names()) d[n.c_str()] = self.attr(n.c_str());
    return d;
  }

 private:
  static std::vector<std::string>& names() {
    static std::vector<std::string> v;
    return v;
  }
  static std::string& type_name() {
    static std::string s;
    return s;
  }

  py::class_<P> cls_;
};

}  // namespace walkout::bindings
