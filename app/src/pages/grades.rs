//! `/grades`: a student sees their grades; a teacher assigns grades and sees
//! those they assigned; an admin sees all.

use classboard::{
    api::{Grade, NewGrade, Role, byline},
    validate,
};
use leptos::{ev::SubmitEvent, prelude::*, task::spawn_local};
use leptos_meta::Title;

use crate::{
    api,
    forms::{Done, Field, Form, FormError, Then, use_hydrated},
    visitor::{RequireLogin, use_visitor},
};

/// The grades shown, for the assignment form to add to (it arrives on
/// demand, see [`assign_form`]).
#[derive(Clone, Copy)]
pub(crate) struct Shown(RwSignal<Option<Vec<Grade>>>);

#[component]
pub fn GradesPage() -> impl IntoView {
    view! {
        <Title text="Grades"/>
        <h1>"Grades"</h1>
        <Grades/>
    }
}

#[island(lazy)]
fn Grades() -> impl IntoView {
    view! {
        <RequireLogin>
            <GradeBoard/>
        </RequireLogin>
    }
}

#[component]
fn GradeBoard() -> impl IntoView {
    let visitor = use_visitor();
    let grades = RwSignal::new(None::<Vec<Grade>>);
    // The cursor of the next (older) page, when there is one.
    let next = RwSignal::new(None::<String>);
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    // The first page, or with `more` the page after the ones shown.
    let load = move |more: bool| {
        let before = if more { next.get_untracked() } else { None };
        busy.set(true);
        spawn_local(async move {
            match api::grades(before.as_deref()).await {
                Ok(page) => {
                    grades.update(|shown| match shown {
                        Some(shown) if more => shown.extend(page.grades),
                        _ => *shown = Some(page.grades),
                    });
                    next.set(page.next);
                }
                Err(api::ApiError::SessionEnded(ended)) => visitor.ended(ended),
                Err(e) => error.set(Some(e.message())),
            }
            busy.set(false);
        });
    };
    Effect::new(move |_| load(false));
    let role = move || visitor.role().unwrap_or(Role::Student);
    provide_context(Shown(grades));
    // The form's code, fetched once the page knows it may show it.
    let form = RwSignal::new(None::<ViewFn>);
    Effect::new(move |_| {
        if role() >= Role::Teacher && form.with_untracked(Option::is_none) {
            spawn_local(async move { form.set(Some(assign_form().await)) });
        }
    });
    // What stands in place of the table while there is none.
    let status = move || {
        grades.with(|shown| match shown {
            None => Some("Loading grades…"),
            Some(list) if list.is_empty() && role() == Role::Student => {
                Some("No grades yet. They will appear here when a teacher assigns them.")
            }
            Some(list) if list.is_empty() => Some("No grades yet."),
            Some(_) => None,
        })
    };

    view! {
        {move || form.get().map(|form| form.run())}
        <h2>{move || match role() {
            Role::Student => "Your grades",
            Role::Teacher => "Grades you assigned",
            Role::Admin => "All grades",
        }}</h2>
        <FormError message=error/>
        <p class="status" role="status" hidden=move || status().is_none()>
            {move || status().unwrap_or_default()}
        </p>
        {move || grades.get().filter(|list| !list.is_empty()).map(|list| view! { <GradeTable grades=list/> })}
        <button type="button" class="secondary" on:click=move |_| load(true)
            hidden=move || next.with(Option::is_none) disabled=move || busy.get()>
            {move || if busy.get() { "Loading…" } else { "Load older grades" }}
        </button>
    }
}

#[component]
fn GradeTable(grades: Vec<Grade>) -> impl IntoView {
    view! {
        <table class="grades">
            <thead>
                <tr><th scope="col">"Student"</th><th scope="col">"Course"</th><th scope="col">"Grade"</th>
                    <th scope="col">"Teacher"</th><th scope="col">"Date"</th></tr>
            </thead>
            <tbody>
                {grades.into_iter().map(|g| view! {
                    <tr>
                        <td>{g.student.username}</td>
                        <td>{g.course}</td>
                        <td>{g.grade}</td>
                        <td>{byline(g.teacher.as_ref())}</td>
                        <td><time datetime=g.created_at.clone()>{g.created_at.get(..10).unwrap_or_default().to_owned()}</time></td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// The form to assign a grade, which only teachers and admins see: its code
/// is a split point of its own, so that students' downloads do not carry
/// it, and teachers' do not carry `/account`'s sections with it.
#[leptos::lazy]
fn assign_form() -> ViewFn {
    ViewFn::from(|| view! { <AssignForm/> })
}

#[component]
fn AssignForm() -> impl IntoView {
    let form = Form::new();
    let shown = use_context::<Shown>().map(|Shown(grades)| grades);
    let hydrated = use_hydrated();
    let student = RwSignal::new(String::new());
    let course = RwSignal::new(String::new());
    let grade = RwSignal::new(String::new());
    let errors = [
        RwSignal::new(None::<String>),
        RwSignal::new(None),
        RwSignal::new(None),
    ];
    let [student_error, course_error, grade_error] = errors;
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let new = NewGrade {
            student: student.get_untracked(),
            course: course.get_untracked(),
            grade: grade.get_untracked(),
        };
        student_error.set(
            new.student
                .trim()
                .is_empty()
                .then(|| "Enter the student's username.".into()),
        );
        course_error.set(
            validate::course(&new.course)
                .err()
                .map(|i| i.message("course")),
        );
        grade_error.set(
            validate::grade(&new.grade)
                .err()
                .map(|i| i.message("grade")),
        );
        if errors.iter().any(|e| e.with_untracked(Option::is_some)) {
            return;
        }
        form.send(async move {
            match api::assign_grade(&new).await {
                Ok(created) => {
                    let created = created.grade;
                    form.done.set(Some(format!(
                        "Assigned {} in {} to {}.",
                        created.grade, created.course, created.student.username
                    )));
                    course.set(String::new());
                    grade.set(String::new());
                    if let Some(grades) = shown {
                        grades.update(|g| g.get_or_insert_with(Vec::new).insert(0, created));
                    }
                }
                Err(e) => {
                    let fields = [
                        ("student", student_error),
                        ("course", course_error),
                        ("grade", grade_error),
                    ];
                    form.fail(e, &fields);
                }
            }
            Then::Ready
        });
    };
    view! {
        <h2>"Assign a grade"</h2>
        <form class="form" on:submit=submit novalidate>
            <FormError message=form.error/>
            <Done form/>
            <Field name="student" label="Student" value=student error=student_error/>
            <Field name="course" label="Course" value=course error=course_error/>
            <Field name="grade" label="Grade" value=grade error=grade_error/>
            <button type="submit" disabled=move || form.busy.get() || !hydrated.get()>
                {move || if form.busy.get() { "Assigning…" } else { "Assign" }}
            </button>
        </form>
    }
}
