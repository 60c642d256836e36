"""Each village's legal adviser (一村一法律顾问): who they are, when they sit, which villages
they serve; the CSV import/export and the staff figures. Imports no aiohttp."""
