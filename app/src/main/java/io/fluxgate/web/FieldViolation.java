package io.fluxgate.web;

/** One invalid input: which field (a JSON path such as {@code email} or {@code [3].email}) and why. */
public record FieldViolation(String field, String message) {
}
