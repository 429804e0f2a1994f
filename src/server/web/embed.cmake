# Turns src/server/web/index.html into a C++ source defining baleen::server::kWebPageHtml (run with
# cmake -DIN=... -DOUT=... -P embed.cmake at build time; no step at run time).
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" n)
math(EXPR size "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," body "${hex}")
string(REGEX REPLACE "((('\\\\x[0-9a-f][0-9a-f]',)){32})" "\\1\n" body "${body}")
file(WRITE "${OUT}.tmp"
  "// Generated from src/server/web/index.html by src/server/web/embed.cmake. Do not edit.\n"
  "#include <cstddef>\nnamespace baleen::server {\nnamespace {\nconst char kData[] = {\n${body}0};\n}\n"
  "extern const char* const kWebPageHtml = kData;\nextern const size_t kWebPageHtmlSize = ${size};\n}\n")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
