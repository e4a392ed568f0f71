// The two tables the studio mirrors from the ground floor, so the page needs no build step.
// tests/test_studio.py checks them against videoforge/core/stages.py (STAGES) and
// videoforge/core/animation_spec.py (ANIMATIONS); change those first, then these.
// Each table is written as JSON (the test reads it as such).

// The progress contract's steps a run goes through, in order; each row names the statuses
// it covers (the visuals are four statuses of one step).
export const STEPS = [
  {"label": "Queued", "statuses": ["waiting"]},
  {"label": "Started", "statuses": ["started"]},
  {"label": "Presentation structure", "statuses": ["generating_content"]},
  {"label": "Narration scripts", "statuses": ["generating_scripts"]},
  {"label": "Voice narration", "statuses": ["generating_audio"]},
  {"label": "Audio track", "statuses": ["combining_audio"]},
  {"label": "Slide visuals", "statuses": ["generating_media", "generating_animation", "fetching_image", "generating_slide"]},
  {"label": "Video and captions", "statuses": ["composing_video"]},
  {"label": "Complete", "statuses": ["completed"]}
];

// The animation types and their fields: kind says how the field is edited ("strings",
// "numbers" and "events" one item a line), count the items a list may have.
export const ANIMATIONS = [
  {"name": "bullets", "fields": []},
  {"name": "flow", "fields": [{"name": "steps", "kind": "strings", "count": [2, 8]}]},
  {"name": "bar_chart", "fields": [{"name": "labels", "kind": "strings", "count": [1, 12]}, {"name": "values", "kind": "numbers"}, {"name": "unit", "kind": "text", "optional": true}]},
  {"name": "timeline", "fields": [{"name": "events", "kind": "events", "count": [2, 10]}]},
  {"name": "cycle", "fields": [{"name": "stages", "kind": "strings", "count": [3, 8]}]},
  {"name": "function_plot", "fields": [{"name": "expression", "kind": "formula"}, {"name": "x_min", "kind": "number"}, {"name": "x_max", "kind": "number"}, {"name": "label", "kind": "text", "optional": true}]},
  {"name": "equation", "fields": [{"name": "terms", "kind": "strings", "count": [1, 10]}]}
];
