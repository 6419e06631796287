-- Image-first reads (incident API: image exposure, incident report, coverage maps; the image
-- dashboards). tile_requests is ordered by (client, ts) for detection and client timelines, so a
-- question about one image had to scan the table (the bloom index on image_id skips almost nothing
-- when every granule holds many images). This projection keeps a second, narrow copy of each part
-- ordered by (image_id, ts), holding only the columns those queries read — no path, referer or user
-- agent — and ClickHouse reads it instead of the table whenever a query names an image and uses only
-- these columns. It lives inside each part, so it is written, merged and deduplicated with the part
-- (no second insert path). Insert cost is measured by `npm run bench` (insert-only, with and without).
ALTER TABLE tile_requests ADD PROJECTION IF NOT EXISTS by_image
(
    SELECT image_id, ts, client, kind, status, scale, rect_x, rect_y, rect_w, rect_h, source, partition, line
    ORDER BY image_id, ts
);

-- Parts written before this migration get the projection too (a background mutation on a server;
-- queries fall back to the table for parts that do not have it yet).
ALTER TABLE tile_requests MATERIALIZE PROJECTION by_image;
