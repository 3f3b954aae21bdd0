package io.fluxgate.web;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

import jakarta.validation.ConstraintViolation;
import jakarta.validation.Validator;
import reactor.core.publisher.Mono;

import org.springframework.stereotype.Component;
import org.springframework.web.reactive.function.server.ServerRequest;

/**
 * Runs Bean Validation on request bodies and turns violations into a 400 that names each field.
 */
@Component
public class RequestValidator {

    private final Validator validator;

    public RequestValidator(Validator validator) {
        this.validator = validator;
    }

    /** The request's JSON body, required and valid, else a 400. */
    public <T> Mono<T> body(ServerRequest request, Class<T> type) {
        return request.bodyToMono(type)
                .switchIfEmpty(Mono.error(() -> ApiException.badRequest("Request body is required")))
                .flatMap(this::valid);
    }

    /** The body itself when valid, else a 400 listing every violation. */
    public <T> Mono<T> valid(T body) {
        List<FieldViolation> errors = violations(body, "");
        return errors.isEmpty() ? Mono.just(body) : Mono.error(ApiException.invalid(errors));
    }

    /** Violations of one object, each field prefixed (for example {@code [3].} inside a batch). */
    public List<FieldViolation> violations(Object body, String prefix) {
        List<FieldViolation> errors = new ArrayList<>();
        for (ConstraintViolation<Object> violation : validator.validate(body)) {
            errors.add(new FieldViolation(prefix + violation.getPropertyPath(), violation.getMessage()));
        }
        // Two constraints may say the same thing (an email that is neither well-formed nor dotted).
        return errors.stream().distinct()
                .sorted(Comparator.comparing(FieldViolation::field).thenComparing(FieldViolation::message))
                .toList();
    }
}
