package io.fluxgate.web;

import java.time.Duration;
import java.util.List;

import org.springframework.http.HttpStatus;

/**
 * A failure the client should hear about, with the status and a detail safe to show. Mapped once, to
 * problem details, by {@link ProblemExceptionHandler}.
 */
public class ApiException extends RuntimeException {

    private final HttpStatus status;
    private final List<FieldViolation> errors;
    private final Duration retryAfter;

    public ApiException(HttpStatus status, String detail) {
        this(status, detail, List.of());
    }

    public ApiException(HttpStatus status, String detail, List<FieldViolation> errors) {
        this(status, detail, errors, null);
    }

    private ApiException(HttpStatus status, String detail, List<FieldViolation> errors, Duration retryAfter) {
        super(detail, null, false, false);
        this.status = status;
        this.errors = List.copyOf(errors);
        this.retryAfter = retryAfter;
    }

    /** When the client may try again (the {@code Retry-After} header), or null. */
    public Duration retryAfter() {
        return retryAfter;
    }

    public HttpStatus status() {
        return status;
    }

    public List<FieldViolation> errors() {
        return errors;
    }

    public static ApiException notFound(String detail) {
        return new ApiException(HttpStatus.NOT_FOUND, detail);
    }

    public static ApiException conflict(String detail) {
        return new ApiException(HttpStatus.CONFLICT, detail);
    }

    public static ApiException conflict(String detail, List<FieldViolation> errors) {
        return new ApiException(HttpStatus.CONFLICT, detail, errors);
    }

    public static ApiException forbidden(String detail) {
        return new ApiException(HttpStatus.FORBIDDEN, detail);
    }

    public static ApiException unauthorized(String detail) {
        return new ApiException(HttpStatus.UNAUTHORIZED, detail);
    }

    /** 503: the service is busy or a dependency is down; try again after {@code retryAfter}. */
    public static ApiException unavailable(String detail, Duration retryAfter) {
        return new ApiException(HttpStatus.SERVICE_UNAVAILABLE, detail, List.of(), retryAfter);
    }

    /** 429: this client asked too often; try again after {@code retryAfter}. */
    public static ApiException tooManyRequests(String detail, Duration retryAfter) {
        return new ApiException(HttpStatus.TOO_MANY_REQUESTS, detail, List.of(), retryAfter);
    }

    public static ApiException badRequest(String detail) {
        return new ApiException(HttpStatus.BAD_REQUEST, detail);
    }

    /** 400 with one entry per invalid field. */
    public static ApiException invalid(List<FieldViolation> errors) {
        return new ApiException(HttpStatus.BAD_REQUEST, "Validation failed", errors);
    }

    public static ApiException invalid(String field, String message) {
        return invalid(List.of(new FieldViolation(field, message)));
    }
}
