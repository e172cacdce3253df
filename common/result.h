// Result types shared by every module: a value or an error.
//
// Each module defines its own `errc` enum registered as a std::error_code category
// (see state/errc.h); a Result carries that code plus a detail string for people
// (which field, which file). Exceptions are used only at process edges (main()).
#pragma once

#include <cassert>
#include <string>
#include <system_error>
#include <utility>
#include <variant>

namespace pathway {

struct Error {
  std::error_code code;
  std::string detail;  // never contains personal data

  std::string ToString() const {
    return detail.empty() ? code.message() : code.message() + ": " + detail;
  }
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT
  Result(std::error_code code, std::string detail = {}) : v_(Error{code, std::move(detail)}) {}

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<T>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<T>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<T>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const {
    assert(!ok());
    return std::get<Error>(v_);
  }

 private:
  std::variant<T, Error> v_;
};

// A Result with no value.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)) {}  // NOLINT
  Status(std::error_code code, std::string detail = {}) : error_{code, std::move(detail)} {}
  static Status Ok() { return {}; }

  bool ok() const { return !error_.code; }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return error_; }

 private:
  Error error_;
};

}  // namespace pathway
