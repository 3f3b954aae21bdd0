package io.fluxgate.web;

import java.util.List;

import org.springframework.http.HttpStatus;

/**
 * A failure the client should hear about, with the status and a detail safe to show. Mapped once, to
 * problem details, by {@link ProblemExceptionHandler}.
 */
public class ApiException extends RuntimeException {

    private final HttpStatus status;
    private final List<FieldViolation> errors;

    public ApiException(HttpStatus status, String detail) {
        this(status, detail, List.of());
    }

    public ApiException(HttpStatus status, String detail, List<FieldViolation> errors) {
        super(detail, null, false, false);
        this.status = status;
        this.errors = List.copyOf(errors);
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
