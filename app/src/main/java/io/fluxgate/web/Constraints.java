package io.fluxgate.web;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import java.net.IDN;
import java.text.Normalizer;
import java.util.Locale;

import io.fluxgate.security.BcryptSafe;
import jakarta.validation.Constraint;
import jakarta.validation.ConstraintValidator;
import jakarta.validation.ConstraintValidatorContext;
import jakarta.validation.Payload;
import jakarta.validation.constraints.NotNull;
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

    /** Required and a valid address with a dotted domain (see {@link #isEmailAddress}). */
    @Documented
    @Constraint(validatedBy = EmailAddressValidator.class)
    @Target({ElementType.FIELD, ElementType.RECORD_COMPONENT, ElementType.METHOD, ElementType.PARAMETER})
    @Retention(RetentionPolicy.RUNTIME)
    @NotNull(message = "Email is required")
    public @interface EmailAddress {
        String message() default INVALID_EMAIL;

        Class<?>[] groups() default {};

        Class<? extends Payload>[] payload() default {};
    }

    /** Optional, but a valid address when present (partial updates). */
    @Documented
    @Constraint(validatedBy = EmailAddressUpdateValidator.class)
    @Target({ElementType.FIELD, ElementType.RECORD_COMPONENT, ElementType.METHOD, ElementType.PARAMETER})
    @Retention(RetentionPolicy.RUNTIME)
    public @interface EmailAddressUpdate {
        String message() default INVALID_EMAIL;

        Class<?>[] groups() default {};

        Class<? extends Payload>[] payload() default {};
    }

    public static final class EmailAddressValidator implements ConstraintValidator<EmailAddress, String> {
        @Override
        public boolean isValid(String value, ConstraintValidatorContext context) {
            return value == null || isEmailAddress(value);
        }
    }

    public static final class EmailAddressUpdateValidator implements ConstraintValidator<EmailAddressUpdate, String> {
        @Override
        public boolean isValid(String value, ConstraintValidatorContext context) {
            return value == null || isEmailAddress(value);
        }
    }

    /**
     * An address as stored, after {@link #normalizeEmail}: {@code local@domain}, one {@code @}, no
     * spaces, all ASCII, a local part of at most 64 characters that neither starts nor ends with a
     * dot nor has two in a row, and a domain of at least two dot-separated labels of letters, digits
     * and inner hyphens. One pass over at most {@value #MAX_EMAIL} characters: the length is checked
     * before anything else, and no regular expression is involved, so no input can make it backtrack.
     */
    public static boolean isEmailAddress(String email) {
        int length = email.length();
        if (length < 3 || length > MAX_EMAIL) {
            return false;
        }
        int at = email.indexOf('@');
        if (at < 1 || at > 64 || at != email.lastIndexOf('@')) {
            return false;
        }
        return isLocalPart(email, 0, at) && isDomain(email, at + 1, length);
    }

    private static boolean isLocalPart(String text, int from, int to) {
        char previous = '.';
        for (int i = from; i < to; i++) {
            char c = text.charAt(i);
            if (c == '.' ? previous == '.' : !(isAsciiLetterOrDigit(c) || LOCAL_SYMBOLS.indexOf(c) >= 0)) {
                return false;
            }
            previous = c;
        }
        return previous != '.';
    }

    private static boolean isDomain(String text, int from, int to) {
        int labels = 0;
        int labelStart = from;
        for (int i = from; i <= to; i++) {
            if (i == to || text.charAt(i) == '.') {
                int labelLength = i - labelStart;
                if (labelLength < 1 || labelLength > 63 || text.charAt(labelStart) == '-' || text.charAt(i - 1) == '-') {
                    return false;
                }
                labels++;
                labelStart = i + 1;
            } else {
                char c = text.charAt(i);
                if (!(isAsciiLetterOrDigit(c) || c == '-')) {
                    return false;
                }
            }
        }
        return labels >= 2;
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

    private static boolean isAsciiLetterOrDigit(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    }

    /**
     * An address as it is compared and stored, so that two addresses that read alike are one: trimmed,
     * Unicode NFKC (fullwidth and other compatibility forms become the letters they stand for),
     * lower-cased, and the domain in its ASCII (IDNA) form, so an internationalized domain is stored
     * as {@code xn--...} and cannot pass for a Latin one. A local part left with anything but ASCII is
     * then refused by {@link #isEmailAddress}: no table of look-alike letters across scripts is
     * complete, so none is trusted. Null when nothing is left; text too long to be an address is only
     * trimmed (and refused by the length check).
     */
    public static String normalizeEmail(String email) {
        String trimmed = trimToNull(email);
        if (trimmed == null || trimmed.length() > MAX_EMAIL) {
            return trimmed;
        }
        String folded = Normalizer.normalize(trimmed, Normalizer.Form.NFKC).toLowerCase(Locale.ROOT);
        int at = folded.lastIndexOf('@');
        if (at < 0 || isAscii(folded, at + 1) || hasDeviation(folded, at + 1)) {
            return folded; // an ASCII domain is in its form already; a deviation stays, and is refused
        }
        try {
            return folded.substring(0, at + 1)
                    + IDN.toASCII(folded.substring(at + 1), IDN.USE_STD3_ASCII_RULES).toLowerCase(Locale.ROOT);
        } catch (RuntimeException notADomain) {
            return folded; // not ASCII: refused as an address
        }
    }

    /**
     * Letters the two generations of IDNA map differently: the JDK's IDNA2003 turns {@code ß} into
     * {@code ss} and drops the joiners, where IDNA2008 keeps them, so {@code straße.de} and
     * {@code strasse.de} are different domains today. Rather than store the wrong one, such a domain
     * is refused.
     */
    private static boolean hasDeviation(String text, int from) {
        for (int i = from; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '\u00DF' || c == '\u03C2' || c == '\u200C' || c == '\u200D') {
                return true;
            }
        }
        return false;
    }

    private static boolean isAscii(String text, int from) {
        for (int i = from; i < text.length(); i++) {
            if (text.charAt(i) >= 0x80) {
                return false;
            }
        }
        return true;
    }

    /** Trimmed but kept even when empty (an empty value means "clear it" in partial updates). */
    public static String trim(String value) {
        return value == null ? null : value.strip();
    }

    public static final String REDACTED = "[redacted]";
    public static final String INVALID_EMAIL = "Please provide a valid email address";
    /** The longest address SMTP carries. */
    public static final int MAX_EMAIL = 254;
    /** Characters allowed in a local part besides letters, digits and inner dots (RFC 5322 atext). */
    private static final String LOCAL_SYMBOLS = "!#$%&'*+/=?^_`{|}~-";
}
