// The organizer console follows the secretariat's desk live: when another
// organizer (or a focal point, or a member) changes a registration, the
// sections that show registrations are read again from the server and put
// in place, keeping what this organizer is typing elsewhere on the page.

import { pageConnection } from "./tribune.js";

const SECTIONS = ["figures", "registrations", "delegations"];
let pending = null;

async function refresh() {
  const response = await fetch("/organize", { credentials: "same-origin" });
  if (!response.ok) return;
  const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
  for (const id of SECTIONS) {
    const here = document.getElementById(id);
    const there = fresh.getElementById(id);
    // Not while this organizer is typing in that section.
    if (here && there && !here.contains(document.activeElement)) here.replaceWith(document.adoptNode(there));
  }
  const note = document.getElementById("live-note");
  if (note) note.textContent = note.dataset.updated || "";
}

function later() {
  // A burst of decisions is read once.
  clearTimeout(pending);
  pending = setTimeout(refresh, 150);
}

const connection = pageConnection();
for (const type of ["registration", "delegation", "note_verbale"]) connection.on(type, later);
connection.start();
