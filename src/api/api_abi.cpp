// api_abi.cpp — the API version this library was built with (ABI checks).
#include "f8.h"

extern "C" int f8_api_version(void) { return F8_API_VERSION; }
