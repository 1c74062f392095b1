pub mod account;
pub mod grades;
pub mod home;
pub mod login;
pub mod new_post;
pub mod not_found;
pub mod post;
pub mod signup;
