"""What the box shows: Jinja2 templates for TV screens, the ES5 script, the stylesheet, key maps
and layout profiles. No web-framework code lives here."""
