/**
 * Dependency health: the checks behind {@code /health/database}, the same checks as Actuator health
 * indicators (readiness depends on PostgreSQL, liveness on nothing external), and a monitor that
 * logs when health turns bad or good.
 */
package io.fluxgate.health;
