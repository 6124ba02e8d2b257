// The Express 5 comparison app: the same two endpoints, JSON access line per request and
// SIGTERM drain as the Python app, so the benchmark compares servers, not features.
"use strict";

const express = require("express");

const port = Number(process.env.PORT || 8080);
const host = process.env.HOST || "0.0.0.0";
const service = process.env.APP_NAME || "envpromote-app";
const environment = process.env.APP_ENVIRONMENT || "local";
const index = JSON.stringify({
  environment,
  service,
  version: {
    image_digest: process.env.APP_IMAGE_DIGEST || null,
    source_commit: process.env.APP_SOURCE_COMMIT || null,
  },
});
// Like the Python app: access lines are INFO, so LOG_LEVEL=WARNING (or higher) turns them off.
const accessLog = ["DEBUG", "INFO"].includes((process.env.LOG_LEVEL || "INFO").toUpperCase());
let shuttingDown = false;

const app = express();
app.disable("x-powered-by");
app.set("etag", false);

app.use((req, res, next) => {
  const started = process.hrtime.bigint();
  res.on("finish", () => {
    if (!accessLog) return;
    const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
    process.stdout.write(
      JSON.stringify({
        time: new Date().toISOString(),
        level: "INFO",
        logger: "access",
        message: `${req.method} ${req.path} ${res.statusCode}`,
        service,
        environment,
        method: req.method,
        path: req.path,
        status: res.statusCode,
        duration_ms: Math.round(durationMs * 1000) / 1000,
        client: req.socket.remoteAddress,
      }) + "\n",
    );
  });
  res.set("cache-control", "no-store");
  res.set("x-content-type-options", "nosniff");
  next();
});

app.get("/", (req, res) => {
  res.type("application/json").send(index);
});

app.get("/health", (req, res) => {
  if (shuttingDown) {
    res.status(503).json({ status: "shutting_down" });
  } else {
    res.json({ status: "ok" });
  }
});

app.use((req, res) => {
  res.status(404).json({ error: "not found" });
});

const server = app.listen(port, host, () => {
  process.stdout.write(JSON.stringify({ level: "INFO", message: "ready", port }) + "\n");
});
server.keepAliveTimeout = 65000;

function shutdown() {
  shuttingDown = true;
  server.close(() => process.exit(0));
  server.closeIdleConnections();
  setTimeout(() => process.exit(1), 20000).unref();
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
