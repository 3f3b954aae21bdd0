package io.fluxgate.web;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.util.Locale;

import io.fluxgate.security.BcryptSafe;
import jakarta.validation.Constraint;
import jakarta.validation.Payload;
import jakarta.validation.constraints.Email;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;
import jakarta.validation.constraints.Size;

/**
 * The contract's validation rules for people, shared by SQL users and Mongo profiles so both answer
 * with the same messages. Each composing constraint reports its own message.
 */
public final class Constraints {

    private Constraints() {
    }

    /** Required, 2..50 characters (after trimming, see {@link #trimToNull}). */
    @Documented
    @Constraint(validatedBy = {})
    @Target({ElementType.FIELD, ElementType.RECORD_COMPONENT, ElementType.METHOD, ElementType.PARAMETER})
    @Retention(RetentionPolicy.RUNTIME)
    @NotNull(message = "Name is required")
    @Size(min = 2, message = "Name must be at least 2 characters")
    @Size(max = 50, message = "Name cannot exceed 50 characters")
    public @interface PersonName {
        String message() default "Invalid name";

        Class<?>[] groups() default {};

        Class<? extends Payload>[] payload() default {};
    }

    /** Optional, but 2..50 characters when present (partial updates). */
    @Documented
    @Constraint(validatedBy = {})
    @Target({ElementType.FIELD, ElementType.RECORD_COMPONENT, ElementType.METHOD, ElementType.PARAMETER})
    @Retention(RetentionPolicy.RUNTIME)
    @Size(min = 2, message = "Name must be at least 2 characters")
    @Size(max = 50, message = "Name cannot exceed 50 characters")
    public @interface PersonNameUpdate {
        String message() default "Invalid name";

        Class<?>[] groups() default {};

        Class<? extends Payload>[] payload() default {};
    }

    /** Required and shaped like an address with a dotted domain. */
    @Documented
    @Constraint(validatedBy = {})
    @Target({ElementType.FIELD, ElementType.RECORD_COMPONENT, ElementType.METHOD, ElementType.PARAMETER})
    @Retention(RetentionPolicy.RUNTIME)
    @NotNull(message = "Email is required")
    @Email(message = "Please provide a valid email address")
    @Pattern(regexp = "^[^\\s@]+@[^\\s@]+\\.[^\\s@]+$", message = "Please provide a valid email address")
    @Size(max = 254, message = "Please provide a valid email address")
    public @interface EmailAddress {
        String message() default "Invalid email";

        Class<?>[] groups() default {};

        Class<? extends Payload>[] payload() default {};
    }

    /** Optional, but a valid address when present (partial updates). */
    @Documented
    @Constraint(validatedBy = {})
    @Target({ElementType.FIELD, ElementType.RECORD_COMPONENT, ElementType.METHOD, ElementType.PARAMETER})
    @Retention(RetentionPolicy.RUNTIME)
    @Email(message = "Please provide a valid email address")
    @Pattern(regexp = "^[^\\s@]+@[^\\s@]+\\.[^\\s@]+$", message = "Please provide a valid email address")
    @Size(max = 254, message = "Please provide a valid email address")
    public @interface EmailAddressUpdate {
        String message() default "Invalid email";

        Class<?>[] groups() default {};

        Class<? extends Payload>[] payload() default {};
    }

    /** Required, 8..72 characters, and at most 72 bytes so bcrypt takes it whole. */
    @Documented
    @Constraint(validatedBy = {})
    @Target({ElementType.FIELD, ElementType.RECORD_COMPONENT, ElementType.METHOD, ElementType.PARAMETER})
    @Retention(RetentionPolicy.RUNTIME)
    @NotNull(message = "Password is required")
    @Size(min = 8, message = "Password must be at least 8 characters")
    @Size(max = 72, message = "Password cannot exceed 72 characters")
    @BcryptSafe
    public @interface NewPassword {
        String message() default "Invalid password";

        Class<?>[] groups() default {};

        Class<? extends Payload>[] payload() default {};
    }

    /** Trimmed, or null when nothing is left: an empty value counts as missing. */
    public static String trimToNull(String value) {
        if (value == null) {
            return null;
        }
        String trimmed = value.strip();
        return trimmed.isEmpty() ? null : trimmed;
    }

    /** Trimmed and lower-cased, or null. */
    public static String normalizeEmail(String email) {
        String trimmed = trimToNull(email);
        return trimmed == null ? null : trimmed.toLowerCase(Locale.ROOT);
    }

    /** Trimmed but kept even when empty (an empty value means "clear it" in partial updates). */
    public static String trim(String value) {
        return value == null ? null : value.strip();
    }

    public static final String REDACTED = "[redacted]";
}
