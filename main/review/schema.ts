/**
 * The review store's schema, as numbered migrations. `PRAGMA user_version` records how many have run; each
 * runs in its own transaction together with the version bump, so a crash mid-migration leaves the old
 * version intact rather than a half-built schema.
 */

export const MIGRATIONS: readonly string[] = [
  // 1: the whole first schema.
  `
  CREATE TABLE images (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    content_hash TEXT NOT NULL,
    study_uid TEXT,
    series_uid TEXT,
    sop_uid TEXT,
    sop_class_uid TEXT,
    width INTEGER NOT NULL CHECK (width > 0),
    height INTEGER NOT NULL CHECK (height > 0),
    flagged INTEGER NOT NULL DEFAULT 0 CHECK (flagged IN (0, 1)),
    flag_note TEXT,
    flagged_by TEXT,
    created TEXT NOT NULL
  );
  CREATE INDEX images_hash ON images (content_hash);

  CREATE TABLE model_runs (
    id INTEGER PRIMARY KEY,
    model TEXT NOT NULL,
    backend TEXT NOT NULL,
    params TEXT NOT NULL DEFAULT '{}',
    started TEXT NOT NULL,
    finished TEXT
  );
  CREATE INDEX model_runs_model ON model_runs (model);

  -- One row per image a run finished: the resume marker, written in the same transaction as its findings.
  CREATE TABLE run_images (
    run_id INTEGER NOT NULL REFERENCES model_runs (id),
    image_id INTEGER NOT NULL REFERENCES images (id),
    findings INTEGER NOT NULL,
    finished TEXT NOT NULL,
    PRIMARY KEY (run_id, image_id)
  );
  CREATE INDEX run_images_image ON run_images (image_id);

  -- Proposed by a model run (source 'model') or drawn by a reviewer (source 'reviewer', run_id NULL).
  CREATE TABLE findings (
    id INTEGER PRIMARY KEY,
    image_id INTEGER NOT NULL REFERENCES images (id),
    run_id INTEGER REFERENCES model_runs (id),
    source TEXT NOT NULL CHECK (source IN ('model', 'reviewer')),
    x0 REAL NOT NULL, y0 REAL NOT NULL, x1 REAL NOT NULL, y1 REAL NOT NULL,
    score REAL,
    area REAL,
    mask TEXT,
    created_by TEXT,
    created TEXT NOT NULL,
    -- An added finding whose addition was undone: hidden everywhere, kept so the audit trail still resolves.
    withdrawn INTEGER NOT NULL DEFAULT 0 CHECK (withdrawn IN (0, 1)),
    CHECK (x1 > x0 AND y1 > y0),
    CHECK ((source = 'model') = (run_id IS NOT NULL))
  );
  CREATE INDEX findings_image ON findings (image_id);
  CREATE INDEX findings_run ON findings (run_id);

  -- Geometry a reviewer drew: an edited box, or an added box with its brush mask (COCO uncompressed RLE JSON).
  CREATE TABLE annotations (
    id INTEGER PRIMARY KEY,
    finding_id INTEGER NOT NULL REFERENCES findings (id),
    reviewer TEXT NOT NULL,
    x0 REAL NOT NULL, y0 REAL NOT NULL, x1 REAL NOT NULL, y1 REAL NOT NULL,
    mask TEXT,
    created TEXT NOT NULL,
    CHECK (x1 > x0 AND y1 > y0)
  );
  CREATE INDEX annotations_finding ON annotations (finding_id);

  -- Each reviewer's current decision on a finding. seq is the audit id of the change that produced it, so
  -- "latest decision" is well ordered even across processes and within one millisecond.
  CREATE TABLE decisions (
    id INTEGER PRIMARY KEY,
    finding_id INTEGER NOT NULL REFERENCES findings (id),
    reviewer TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('accepted', 'rejected', 'edited', 'added')),
    annotation_id INTEGER REFERENCES annotations (id),
    note TEXT,
    decided TEXT NOT NULL,
    seq INTEGER NOT NULL,
    UNIQUE (finding_id, reviewer)
  );
  CREATE INDEX decisions_reviewer ON decisions (reviewer);

  CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    who TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('record', 'decide', 'add', 'flag', 'undo')),
    entity TEXT NOT NULL CHECK (entity IN ('image', 'finding', 'decision')),
    entity_id INTEGER NOT NULL,
    image_id INTEGER,
    before TEXT,
    after TEXT,
    undoes INTEGER REFERENCES audit (id)
  );
  CREATE INDEX audit_who ON audit (who, id);
  CREATE UNIQUE INDEX audit_undoes ON audit (undoes) WHERE undoes IS NOT NULL;

  CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only: UPDATE refused'); END;
  CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only: DELETE refused'); END;
  `,

  // 2: why a run's model was not for the image it ran on (issue 23: `studio analyze --force` runs a model on
  // an image of another kind, e.g. a colonoscopy model on a CT). NULL when the image fits the model, and for
  // every run recorded before the check existed. Kept per (run, image) since a fit is a property of both:
  // each of that run's findings on the image inherits it, reviewer-drawn findings do not.
  `
  ALTER TABLE run_images ADD COLUMN mismatch TEXT CHECK (mismatch IS NULL OR length(mismatch) > 0);
  `,

  // 3: a reader's decision about a whole image (issue 24). An image with no live finding has nothing to
  // accept or reject, so before this it counted as reviewed by default and a lesion the model missed was
  // never put in front of a reader. A 'no-lesion' decision is the reader saying "I looked: nothing here";
  // only then is such an image reviewed. One current decision per (image, reviewer), ordered by seq (the
  // audit id of the change that produced it) like findings' decisions; audited as action 'decide' on
  // entity 'image', undone by undo like every other change.
  `
  CREATE TABLE image_decisions (
    id INTEGER PRIMARY KEY,
    image_id INTEGER NOT NULL REFERENCES images (id),
    reviewer TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('no-lesion')),
    note TEXT,
    decided TEXT NOT NULL,
    seq INTEGER NOT NULL,
    UNIQUE (image_id, reviewer)
  );
  CREATE INDEX image_decisions_reviewer ON image_decisions (reviewer);
  `,

  // 4: what a run saw on an image besides its findings, for ordering the worklist by how informative a
  // review would be (issue 24, main/review/informative.ts). Findings are cut at the run's operating threshold,
  // so an image without one says nothing about how close it came: lesion_peak is the lesion map's maximum
  // (the image-level "lesion present" score), threshold the one the findings were cut at. Both in [0, 1];
  // NULL for every run recorded before this, which the order then leaves unscored.
  `
  ALTER TABLE run_images ADD COLUMN lesion_peak REAL CHECK (lesion_peak IS NULL OR (lesion_peak >= 0 AND lesion_peak <= 1));
  ALTER TABLE run_images ADD COLUMN threshold REAL CHECK (threshold IS NULL OR (threshold >= 0 AND threshold <= 1));
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** The triggers the migrations create: a store holding any other (or any view) was not written by the studio. */
export const OWN_TRIGGERS: readonly string[] = MIGRATIONS.flatMap((m) => [...m.matchAll(/CREATE TRIGGER (\w+)/g)].map((x) => x[1]));
