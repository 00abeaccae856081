# Installing and packaging pgblit: `cmake --install BUILD [--prefix P]` puts the binary in
# bin/, the documentation in share/doc/pgblit/ and the pgblit(1) man page in share/man/man1/;
# `cpack -G DEB` (in BUILD) makes a .deb of the same tree whose Depends come from the shared
# libraries the binary really links (dpkg-shlibdeps) plus the client tools it runs.
include(GNUInstallDirs)
# `make install` and cpack install what was built rather than first building every target
# (tests and benchmarks included): the package needs only the binary and its man page.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

# The man page comes from the flags' own help texts, as docs/flags.md does.
set(PGBLIT_MAN_PAGE ${CMAKE_BINARY_DIR}/man/pgblit.1.gz)
add_custom_command(
  OUTPUT ${PGBLIT_MAN_PAGE}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
  COMMAND ${PROJECT_SOURCE_DIR}/scripts/man-page.sh $<TARGET_FILE:pgblit> > ${CMAKE_BINARY_DIR}/man/pgblit.1
  # -n: no name or time stamp in the gzip header, so the same build makes the same package.
  COMMAND gzip -9nf ${CMAKE_BINARY_DIR}/man/pgblit.1
  DEPENDS pgblit ${PROJECT_SOURCE_DIR}/scripts/man-page.sh ${PROJECT_SOURCE_DIR}/scripts/flag-commands.sh
  COMMENT "Generating the pgblit(1) man page from the flags' help texts"
  VERBATIM)
add_custom_target(pgblit_man_page ALL DEPENDS ${PGBLIT_MAN_PAGE})

install(TARGETS pgblit RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${PGBLIT_MAN_PAGE} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME pgblit)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "pgblit maintainers <pgblit@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "move PostgreSQL table data between servers, fast and verified")
set(CPACK_PACKAGE_DESCRIPTION
    "pgblit copies a set of tables from one PostgreSQL server to another as parallel binary COPY from one snapshot, each chunk committed atomically with its record in a run catalog and verified by digest; with a dry run, resume, spool, restore and reports.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # pgblit_VERSION_ARCH.deb
set(CPACK_DEBIAN_PACKAGE_SECTION database)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Not linked, but run: pg_dump and pg_restore for --create-schema and backup's schema.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "postgresql-client")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
include(CPack)
