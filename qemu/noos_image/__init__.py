"""The image's host-side checks: the Debian lock (`debian_lock`) and the
list of the files in an image's root tree (`files`), which tell what went
into a build and how two builds differ."""
