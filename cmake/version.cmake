# Build version from git (tag, commit, dirty flag), falling back to the project version.
find_package(Git QUIET)
set(FEDGW_VERSION_STRING "${PROJECT_VERSION}")
if(GIT_FOUND AND EXISTS "${CMAKE_SOURCE_DIR}/.git")
  execute_process(COMMAND ${GIT_EXECUTABLE} -C ${CMAKE_SOURCE_DIR} describe --always --dirty --tags
                  OUTPUT_VARIABLE _gitdesc OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET
                  RESULT_VARIABLE _gitrc)
  if(_gitrc EQUAL 0 AND _gitdesc)
    set(FEDGW_VERSION_STRING "${PROJECT_VERSION}+g${_gitdesc}")
  endif()
endif()
