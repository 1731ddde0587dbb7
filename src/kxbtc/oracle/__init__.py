"""The settlement index: spot feeds (``feeds``), the BRTI nowcast (``brti``), settlement windows
(``settlement``) and the object that runs them together (``service.Oracle``)."""
