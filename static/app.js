// The natter page.
