use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_code, header};

async fn assign(
    app: &TestApp,
    token: &str,
    student: &str,
    course: &str,
    grade: &str,
) -> reqwest::Response {
    app.bearer(Method::POST, "/api/grades", token)
        .json(&json!({"student": student, "course": course, "grade": grade}))
        .send()
        .await
        .unwrap()
}

async fn grades(app: &TestApp, token: &str) -> Vec<Value> {
    let response = app
        .bearer(Method::GET, "/api/grades", token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["grades"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn a_teacher_assigns_and_each_role_sees_what_it_should() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let turing = app.user_with_role("turing", "teacher").await;
    let hopper = app.user_with_role("hopper", "teacher").await;
    let admin = app.user_with_role("root", "admin").await;

    let response = assign(&app, &turing.access, "ada", "Logic", "A").await;
    assert_eq!(response.status(), 201);
    let grade = response.json::<Value>().await.unwrap()["grade"].clone();
    assert_eq!(grade["student"]["username"], "ada");
    assert_eq!(grade["teacher"]["username"], "turing");
    assert_eq!(
        (grade["course"].as_str(), grade["grade"].as_str()),
        (Some("Logic"), Some("A"))
    );
    assert_eq!(
        assign(&app, &hopper.access, "bob", "Compilers", "B+")
            .await
            .status(),
        201
    );
    assert_eq!(
        assign(&app, &admin.access, "ADA", "Ethics", "pass")
            .await
            .status(),
        201,
        "admins may assign"
    );

    let own = grades(&app, &ada.access).await;
    assert_eq!(own.len(), 2);
    assert!(own.iter().all(|g| g["student"]["username"] == "ada"));
    assert_eq!(grades(&app, &bob.access).await.len(), 1);
    let assigned = grades(&app, &turing.access).await;
    assert_eq!(assigned.len(), 1);
    assert_eq!(assigned[0]["teacher"]["username"], "turing");
    assert_eq!(grades(&app, &admin.access).await.len(), 3);
}

#[tokio::test]
async fn a_student_may_not_assign_grades() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    app.signup("bob").await;
    let response = assign(&app, &ada.access, "bob", "Logic", "F").await;
    assert_eq!(response.status(), 403);
    assert_eq!(
        header(&response, "www-authenticate"),
        r#"Bearer realm="api", error="insufficient_scope""#
    );
    assert_eq!(error_code(response).await, "forbidden");
}

#[tokio::test]
async fn grades_name_an_existing_student_and_valid_fields() {
    let app = TestApp::spawn().await;
    let turing = app.user_with_role("turing", "teacher").await;
    app.user_with_role("hopper", "teacher").await;
    let response = assign(&app, &turing.access, "nobody", "", &"x".repeat(17)).await;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["details"],
        json!([
            {"field": "student", "issue": "unknown_student"},
            {"field": "course", "issue": "too_short"},
            {"field": "grade", "issue": "too_long"}
        ])
    );
    let response = assign(&app, &turing.access, "hopper", "Logic", "A").await;
    assert_eq!(response.status(), 422, "a teacher is not a student");
}

#[tokio::test]
async fn grades_are_listed_a_bounded_page_at_a_time_for_every_role() {
    let app = TestApp::spawn().await;
    let teacher = app.user_with_role("turing", "teacher").await;
    let ada = app.signup("ada").await;
    for i in 0..5 {
        let response = assign(&app, &teacher.access, "ada", &format!("Course {i}"), "A").await;
        assert_eq!(response.status(), 201);
    }
    for token in [&teacher.access, &ada.access] {
        let mut courses = Vec::new();
        let mut path = "/api/grades?limit=2".to_owned();
        loop {
            let body = app.get_json(&path, token).await;
            let page = body["grades"].as_array().unwrap();
            assert!(page.len() <= 2);
            courses.extend(
                page.iter()
                    .map(|g| g["course"].as_str().unwrap().to_owned()),
            );
            match body["next"].as_str() {
                Some(next) => path = format!("/api/grades?limit=2&before={next}"),
                None => break,
            }
        }
        assert_eq!(
            courses,
            ["Course 4", "Course 3", "Course 2", "Course 1", "Course 0"]
        );
    }
    assert_eq!(
        grades(&app, &ada.access).await.len(),
        5,
        "default page holds them"
    );
    for bad in ["?limit=0", "?limit=101", "?before=x"] {
        let response = app
            .bearer(Method::GET, &format!("/api/grades{bad}"), &ada.access)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{bad}");
        assert_eq!(error_code(response).await, "invalid_request");
    }
}
