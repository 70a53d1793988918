# Every target of ours builds with these; third-party headers come in as SYSTEM includes.
add_compile_options(-Wall -Wextra -Werror -Wno-missing-field-initializers)
if(COINRELAY_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=address,undefined)
endif()
