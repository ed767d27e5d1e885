"""Span, event, attribute, baggage and metric names, defined once.

ContextCore task semantics (task.*), OpenTelemetry CI/CD conventions (cicd.*)
and the pipeline's own (pipeline.*, gate.*, calibration.*, checksum.*, size.*).
"""

# ContextCore tasks-as-spans
TASK_TYPE = "task.type"
TASK_ID = "task.id"
TASK_STATUS = "task.status"
TASK_PERCENT_COMPLETE = "task.percent_complete"
TASK_BLOCKED_BY = "task.blocked_by"
TASK_TYPE_EPIC, TASK_TYPE_STORY, TASK_TYPE_TASK = "epic", "story", "task"
STATUS_IN_PROGRESS, STATUS_DONE, STATUS_FAILED, STATUS_BLOCKED = "in_progress", "done", "failed", "blocked"
EVENT_PROGRESS = "task.progress_updated"

# OpenTelemetry CI/CD semantic conventions
CICD_PIPELINE_NAME = "cicd.pipeline.name"
CICD_PIPELINE_RUN_ID = "cicd.pipeline.run.id"
CICD_PIPELINE_RESULT = "cicd.pipeline.result"
CICD_PIPELINE_TASK_NAME = "cicd.pipeline.task.name"
CICD_RESULT_SUCCESS, CICD_RESULT_FAILURE = "success", "failure"
PIPELINE_NAME = "ctx-assets"

# Resource
SERVICE_NAME = "service.name"
PROJECT_ID = "project.id"
SERVICE_NAME_VALUE = "ctx-assets"

# Pipeline
PIPELINE_STAGE_NAME = "pipeline.stage.name"
PIPELINE_ARTIFACT_ID = "pipeline.artifact.id"
PIPELINE_ARTIFACT_TYPE = "pipeline.artifact.type"
PIPELINE_TARGET = "pipeline.target"
PIPELINE_INPUT_CHECKSUM = "pipeline.input.checksum"
PIPELINE_OUTPUT_CHECKSUM = "pipeline.output.checksum"
PIPELINE_ARTIFACT_LINES = "pipeline.artifact.lines"
PIPELINE_ARTIFACT_TOKENS = "pipeline.artifact.tokens"
PIPELINE_ARTIFACT_PATH = "pipeline.artifact.path"
PIPELINE_MANIFEST_CHECKSUM = "pipeline.manifest.checksum"
STAGES = ("manifest", "export", "plan_ingestion", "artisan", "output")
PHASE_DESIGN, PHASE_IMPLEMENT = "DESIGN", "IMPLEMENT"

# Gates
EVENT_GATE = "gate.validation"
GATE_NAME = "gate.name"
GATE_RESULT = "gate.result"
GATE_BLOCKING = "gate.blocking"
GATE_VIOLATIONS = "gate.violations"


def gate_violation_field(i: int) -> str:
    return f"gate.violation.{i}.field"


def gate_violation_message(i: int) -> str:
    return f"gate.violation.{i}.message"


EVENT_SIZE_ESTIMATE = "size.estimate"
SIZE_PREFIX, CALIBRATION_PREFIX, CHECKSUM_PREFIX = "size.", "calibration.", "checksum."

# Open guidance questions as spans under plan ingestion (seed Part 3: "question spans linked to
# affected task spans"): the question links to each artifact it constrains, the artifact back.
SPAN_QUESTION = "question"  # span name: "question Q-ID"
QUESTION_ID = "question.id"
QUESTION_STATUS = "question.status"
QUESTION_PRIORITY = "question.priority"
QUESTION_TEXT = "question.text"
QUESTION_ARTIFACTS = "question.artifacts"  # how many artifacts the question constrains

# Links
LINK_TYPE = "link.type"
LINK_DEPENDS_ON = "depends_on"
LINK_CONSTRAINS = "constrains"  # question -> artifact
LINK_CONSTRAINED_BY = "constrained_by"  # artifact -> question

# Baggage
BAGGAGE_PROJECT_ID = "project.id"
BAGGAGE_MANIFEST_CHECKSUM = "manifest.checksum"

# Metrics
METRIC_STAGE_DURATION = "pipeline_stage_duration_seconds"
METRIC_GATE_VIOLATIONS = "pipeline_gate_violations_total"
METRIC_RUNS = "pipeline_runs_total"
METRIC_CALIBRATION_MISMATCH = "pipeline_calibration_mismatch_total"
METRIC_RUN_DURATION = "cicd.pipeline.run.duration"

# Structured JSON log lines (ContextCore dual telemetry): the `event` field names what happened, so
# the Loki ruler can derive the metrics above from the logs (examples/ctx-assets.contextcore.yaml).
LOG_EVENT = "event"
LOG_RUN_END = "pipeline.run"  # with result, duration_seconds
LOG_STAGE_END = "stage.end"  # with stage, result, duration_seconds
# gate lines use EVENT_GATE ("gate.validation") with gate, result, violations, artifact_type
LOG_FIELDS = (LOG_EVENT, "stage", "artifact_id", "artifact_type", "gate", "result", "violations", "duration_seconds")

# Span names
SPAN_BUILD = "ctx build"
SPAN_RUN = "dagster run"
