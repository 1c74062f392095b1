import { expect, login, setRole, signupViaApi, test, uniqueName } from "./helpers";

test("a member publishes a post and everyone sees it in the feed", async ({ page, request, baseURL, browser }) => {
  const name = uniqueName("pat");
  await signupViaApi(request, baseURL!, name);
  await login(page, name);
  await page.getByRole("link", { name: "New post" }).click();
  await expect(page.getByRole("button", { name: "Publish" })).toBeEnabled();

  await page.getByRole("button", { name: "Publish" }).click();
  await expect(page.getByText("Title cannot be empty.")).toBeVisible();

  const title = `Field trip ${name}`;
  await page.getByLabel("Title").fill(title);
  await page.getByLabel("Body").fill("We leave at nine. Bring water.");
  await page.getByRole("button", { name: "Publish" }).click();
  await expect(page.getByRole("heading", { level: 1, name: title })).toBeVisible();
  await expect(page.getByText(`by ${name}`)).toBeVisible();

  // A visitor with no account reads it, server-rendered.
  const visitor = await browser.newContext({ javaScriptEnabled: false });
  const anon = await visitor.newPage();
  await anon.goto(baseURL!);
  await expect(anon.getByRole("link", { name: title })).toBeVisible();
  await anon.getByRole("link", { name: title }).click();
  await expect(anon.getByText("We leave at nine. Bring water.")).toBeVisible();
  await expect(anon.getByRole("button", { name: "Delete" })).toHaveCount(0);
  await visitor.close();

  // The author deletes it.
  await page.getByRole("button", { name: "Delete" }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole("status").filter({ hasText: "The post was deleted." })).toBeVisible();
  await expect(page.getByRole("link", { name: title })).toHaveCount(0);
});

test("a teacher assigns a grade and the student sees it; a student sees no form", async ({ browser, request, baseURL }) => {
  const teacher = uniqueName("tess");
  const student = uniqueName("stu");
  await signupViaApi(request, baseURL!, teacher);
  await signupViaApi(request, baseURL!, student);
  setRole(teacher, "teacher");

  const teacherPage = await (await browser.newContext()).newPage();
  await login(teacherPage, teacher, undefined, "/grades");
  await expect(teacherPage.getByRole("heading", { name: "Grades you assigned" })).toBeVisible();
  await expect(teacherPage.getByText("No grades yet.")).toBeVisible();
  await expect(teacherPage.getByRole("button", { name: "Assign" })).toBeEnabled();
  await teacherPage.getByLabel("Student").fill("nobody-at-all");
  await teacherPage.getByLabel("Course").fill("Astronomy");
  await teacherPage.getByLabel("Grade").fill("A");
  await teacherPage.getByRole("button", { name: "Assign" }).click();
  await expect(teacherPage.getByText("There is no student with this username.")).toBeVisible();
  await teacherPage.getByLabel("Student").fill(student);
  await teacherPage.getByRole("button", { name: "Assign" }).click();
  await expect(teacherPage.getByText(`Assigned A in Astronomy to ${student}.`)).toBeVisible();
  await expect(teacherPage.getByRole("cell", { name: "Astronomy" })).toBeVisible();

  const studentPage = await (await browser.newContext()).newPage();
  await login(studentPage, student, undefined, "/grades");
  await expect(studentPage.getByRole("heading", { name: "Your grades" })).toBeVisible();
  const row = studentPage.getByRole("row").filter({ hasText: "Astronomy" });
  await expect(row).toContainText("A");
  await expect(row).toContainText(teacher);
  await expect(studentPage.getByRole("button", { name: "Assign" })).toHaveCount(0);
  await expect(studentPage.getByLabel("Course")).toHaveCount(0);
});
