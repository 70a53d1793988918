#pragma once

#include <span>
#include <string_view>

namespace coinrelay::api {

/// One file of the built dashboard (web/), compiled into the binary at build time by
/// cmake/build_web.cmake, so that coinrelay serves exactly the dashboard it was built with.
struct WebAsset {
  std::string_view path;          ///< "/index.html", "/assets/index-<hash>.js"
  std::string_view content_type;  ///< from the file's extension
  std::string_view bytes;
};

/// Every embedded file (generated source, see web/CMakeLists.txt).
std::span<const WebAsset> webAssets();

}  // namespace coinrelay::api
