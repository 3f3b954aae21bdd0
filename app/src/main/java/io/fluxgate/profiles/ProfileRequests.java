package io.fluxgate.profiles;

import java.util.List;

import io.fluxgate.security.BcryptSafe;
import io.fluxgate.web.Constraints.EmailAddress;
import io.fluxgate.web.Constraints.NewPassword;
import io.fluxgate.web.Constraints.PersonName;
import io.fluxgate.web.Constraints.PersonNameUpdate;
import io.swagger.v3.oas.annotations.media.Schema;
import jakarta.validation.Valid;
import jakarta.validation.constraints.DecimalMax;
import jakarta.validation.constraints.DecimalMin;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;
import jakarta.validation.constraints.Size;

import static io.fluxgate.web.Constraints.REDACTED;
import static io.fluxgate.web.Constraints.normalizeEmail;
import static io.fluxgate.web.Constraints.trim;
import static io.fluxgate.web.Constraints.trimToNull;

/** Request bodies of the profile endpoints, normalized on arrival, with the contract's messages. */
final class ProfileRequests {

    static final String PLATFORMS = "twitter|linkedin|github|website";
    static final String THEMES = "light|dark|auto";
    static final String STATUSES = "active|inactive|suspended";

    private ProfileRequests() {
    }

    @Schema(name = "NewProfile")
    record Create(
            @PersonName String name,
            @EmailAddress String email,
            @NewPassword String password,
            @Valid Details profile,
            @Valid Preferences preferences,
            @Valid Location location) {

        Create {
            name = trimToNull(name);
            email = normalizeEmail(email);
            password = password == null || password.isEmpty() ? null : password;
        }

        @Override
        public String toString() {
            return "Create[name=" + name + ", email=" + email + ", password=" + REDACTED + "]";
        }
    }

    /** Absent fields stay as they are. A new password is hashed before it is stored. */
    @Schema(name = "ProfilePatch")
    record Patch(
            @PersonNameUpdate String name,
            @Size(min = 8, message = "Password must be at least 8 characters")
            @Size(max = 72, message = "Password cannot exceed 72 characters")
            @BcryptSafe
            String password,
            @Valid Details profile,
            @Valid Preferences preferences,
            @Pattern(regexp = STATUSES, message = "Status must be one of active, inactive, suspended") String status,
            @Valid Location location) {

        Patch {
            name = trim(name);
        }

        boolean isEmpty() {
            return name == null && password == null && profile == null && preferences == null && status == null
                    && location == null;
        }

        @Override
        public String toString() {
            return "Patch[name=" + name + ", password=" + (password == null ? null : REDACTED) + "]";
        }
    }

    @Schema(name = "ProfileDetailsInput")
    record Details(
            @Size(max = 2048, message = "Avatar cannot exceed 2048 characters")
            @Pattern(regexp = "^$|^https?://\\S+$", message = "Avatar must be an http or https URL")
            String avatar,
            @Size(max = 500, message = "Bio cannot exceed 500 characters") String bio,
            @Size(max = 20, message = "At most 20 social links") List<@Valid @NotNull SocialLink> socialLinks) {

        Details {
            avatar = trim(avatar);
            bio = trim(bio);
        }
    }

    @Schema(name = "SocialLinkInput")
    record SocialLink(
            @NotNull(message = "Platform is required")
            @Pattern(regexp = PLATFORMS, message = "Platform must be one of twitter, linkedin, github, website")
            String platform,
            @NotNull(message = "URL is required")
            @Pattern(regexp = "^https?://\\S+$", message = "URL must be an http or https URL")
            @Size(max = 2048, message = "URL cannot exceed 2048 characters")
            String url) {
    }

    @Schema(name = "PreferencesInput")
    record Preferences(@Valid Notifications notifications,
            @Pattern(regexp = THEMES, message = "Theme must be one of light, dark, auto") String theme) {
    }

    @Schema(name = "NotificationsInput")
    record Notifications(Boolean email, Boolean push) {
    }

    @Schema(name = "LocationInput")
    record Location(
            @NotNull(message = "Longitude is required")
            @DecimalMin(value = "-180", message = "Longitude must be between -180 and 180")
            @DecimalMax(value = "180", message = "Longitude must be between -180 and 180")
            Double lng,
            @NotNull(message = "Latitude is required")
            @DecimalMin(value = "-90", message = "Latitude must be between -90 and 90")
            @DecimalMax(value = "90", message = "Latitude must be between -90 and 90")
            Double lat) {
    }

    /** A profile and its linked account document, created together or not at all. */
    record WithAccount(@NotNull(message = "Profile is required") @Valid Create profile,
            @NotNull(message = "Account is required") @Valid AccountDetails account) {
    }

    record AccountDetails(
            @NotNull(message = "Plan is required")
            @Pattern(regexp = "free|pro|team", message = "Plan must be one of free, pro, team") String plan) {
    }

    /** One operation of a bulk write. */
    record BulkOperation(
            @NotNull(message = "Operation is required")
            @Pattern(regexp = "insert|update|delete", message = "Operation must be one of insert, update, delete")
            String op,
            String id,
            @Valid Create profile,
            @Valid Patch set) {
    }
}
