from tests.browser.conftest import (  # noqa: F401 - Debian's Chromium, the screenshot helper
    browser_context_args,
    browser_type_launch_args,
    screenshot,
)
