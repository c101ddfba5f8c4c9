# f8Install.cmake — what `cmake --install` puts in a prefix, and the .deb
# (`cpack -G DEB`). Included once, at the end of the top-level CMakeLists.txt.
#
#   bin/f8
#   lib/libf8.so -> libf8.so.<ABI> -> libf8.so.<version>     (target f8_shared)
#   include/f8.h
#   lib/pkgconfig/f8.pc
#   lib/cmake/f8/f8Config.cmake, f8ConfigVersion.cmake, f8Targets*.cmake  (f8::f8)
#
# The paths are relative to the prefix, so `cmake --install build --prefix P`
# works for any P without reconfiguring.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(F8_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/f8)
set(F8_INSTALL_PKGCONFIGDIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

install(TARGETS f8_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
install(TARGETS f8_shared EXPORT f8Targets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT dev
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_SOURCE_DIR}/include/f8.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)

# CMake package: find_package(f8 [0.1] CONFIG) -> f8::f8
install(EXPORT f8Targets NAMESPACE f8:: DESTINATION ${F8_INSTALL_CMAKEDIR} COMPONENT dev)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/f8Config.cmake.in
                              ${PROJECT_BINARY_DIR}/f8Config.cmake
                              INSTALL_DESTINATION ${F8_INSTALL_CMAKEDIR})
# 0.x: a minor release may break the API, so only the same major.minor matches.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/f8ConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/f8Config.cmake ${PROJECT_BINARY_DIR}/f8ConfigVersion.cmake
        DESTINATION ${F8_INSTALL_CMAKEDIR} COMPONENT dev)

# pkg-config: the prefix is written at install time (the --prefix given to
# `cmake --install`, /usr in the .deb), so the paths are absolute and plain.
configure_file(${PROJECT_SOURCE_DIR}/cmake/f8.pc.in ${PROJECT_BINARY_DIR}/f8.pc.in @ONLY)
install(CODE "
  get_filename_component(_f8_prefix \"\${CMAKE_INSTALL_PREFIX}\" ABSOLUTE)
  file(READ \"${PROJECT_BINARY_DIR}/f8.pc.in\" _f8_pc)
  string(REPLACE \"%PREFIX%\" \"\${_f8_prefix}\" _f8_pc \"\${_f8_pc}\")
  set(_f8_pc_file \"\$ENV{DESTDIR}\${_f8_prefix}/${F8_INSTALL_PKGCONFIGDIR}/f8.pc\")
  message(STATUS \"Installing: \${_f8_pc_file}\")
  file(WRITE \"\${_f8_pc_file}\" \"\${_f8_pc}\")
  list(APPEND CMAKE_INSTALL_MANIFEST_FILES \"\${_f8_pc_file}\")
" COMPONENT dev)

# ---- cpack -G DEB (run from the build directory) ----------------------------
# One package, `f8`: the binary, the shared library and the development files.
set(CPACK_PACKAGE_NAME f8)
set(CPACK_PACKAGE_VENDOR "f8")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "FP8 LLM inference engine: f8 CLI, libf8 (C API) and its headers")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "f8 developers <f8@localhost>")
set(CPACK_DEBIAN_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_STRIP_FILES ON)
# shlibs file (libf8 0 f8 (>= 0.1.0)) and the ldconfig trigger for /usr/lib/libf8.so.0
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
if(F8_HAVE_CUDA)
  set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
      "Built with the CUDA backend: libf8 and f8 need libcudart.so.13 and libcublasLt.so.13\n(CUDA 13 runtime) on the library path; a CUDA driver is optional (without one,\nthe CPU backends run).")
endif()
# Dependencies come from dpkg-shlibdeps, run by cmake/f8CPackDeb.cmake at cpack
# time with --ignore-missing-info: the CUDA runtime libraries (not from a Debian
# package) are left out of Depends instead of failing the package build.
set(F8_CPACK_SHLIBDEPS_FILES $<TARGET_FILE:f8_shared> $<TARGET_FILE:f8_cli>)
file(GENERATE OUTPUT ${PROJECT_BINARY_DIR}/f8CPackDebFiles.txt CONTENT "${F8_CPACK_SHLIBDEPS_FILES}")
set(F8_CPACK_DEB_FILES_LIST ${PROJECT_BINARY_DIR}/f8CPackDebFiles.txt)
configure_file(${PROJECT_SOURCE_DIR}/cmake/f8CPackDeb.cmake.in ${PROJECT_BINARY_DIR}/f8CPackDeb.cmake @ONLY)
set(CPACK_PROJECT_CONFIG_FILE ${PROJECT_BINARY_DIR}/f8CPackDeb.cmake)
set(CPACK_MONOLITHIC_INSTALL ON)  # runtime + dev components in the one package
include(CPack)
