# Third-party libraries, all from Debian 12 packages. See README.md ("Dependencies").
find_package(PkgConfig REQUIRED)
pkg_check_modules(MHD REQUIRED IMPORTED_TARGET libmicrohttpd)
pkg_check_modules(UV REQUIRED IMPORTED_TARGET libuv)
pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET jansson)
pkg_check_modules(ARGON2 REQUIRED IMPORTED_TARGET libargon2)
pkg_check_modules(LMDB REQUIRED IMPORTED_TARGET lmdb)
pkg_check_modules(EXPAT REQUIRED IMPORTED_TARGET expat)
pkg_check_modules(UNBOUND REQUIRED IMPORTED_TARGET libunbound)
pkg_check_modules(CMOCKA REQUIRED IMPORTED_TARGET cmocka)

# BearSSL 0.6 ships no pkg-config file.
find_path(BEARSSL_INCLUDE_DIR bearssl.h REQUIRED)
find_library(BEARSSL_LIBRARY NAMES bearssl REQUIRED)
add_library(bearssl::bearssl UNKNOWN IMPORTED)
set_target_properties(bearssl::bearssl PROPERTIES
  IMPORTED_LOCATION "${BEARSSL_LIBRARY}"
  INTERFACE_INCLUDE_DIRECTORIES "${BEARSSL_INCLUDE_DIR}")

# expat 2.5.0 in Debian carries the CVE-2023-52425 reparse deferral; detect the switch.
include(CheckSymbolExists)
set(CMAKE_REQUIRED_LIBRARIES ${EXPAT_LINK_LIBRARIES})
check_symbol_exists(XML_SetReparseDeferralEnabled expat.h FEDGW_HAVE_XML_REPARSE_DEFERRAL)
unset(CMAKE_REQUIRED_LIBRARIES)

find_package(Threads REQUIRED)
