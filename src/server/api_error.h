// api_error.h — OpenAI-style errors for the HTTP layer.
//
// Every failure the server reports is an ApiError rendered as
//   {"error": {"message": ..., "type": ..., "param": ..., "code": ...}}
// with the HTTP status the OpenAI API uses for the same case (400 bad
// request, 401 auth, 404 unknown route/model, 413 body too large, 503 busy
// or shutting down, 500 only for a runtime failure that is our bug).
#pragma once

#include <string>

namespace f8srv {

struct ApiError {
  int status = 400;
  std::string message;
  std::string type = "invalid_request_error";  // OpenAI: invalid_request_error,
                                                // authentication_error, server_error, ...
  std::string param;                            // offending field ("" = null)
  std::string code;                             // machine code ("" = null)
};

inline ApiError bad_request(std::string msg, std::string param = "", std::string code = "") {
  return ApiError{400, std::move(msg), "invalid_request_error", std::move(param), std::move(code)};
}

// The JSON body for an error (one line, no trailing newline).
std::string error_json(const ApiError& e);

}  // namespace f8srv
